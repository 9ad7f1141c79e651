import ConnTrack
import FlowGen
import Harness
import Testing
import TestSupport

// What `fast` keeps of `fixed`: the same tracker and the same rules, so on
// the same packets every tracker result and connection count is `fixed`'s,
// except where `fixed` resurrects an expired connection: its lookup cannot
// reap an expired tuple whose partner sits in a lower bucket (lock order
// defers it), and its insert re-check then finds the tuple and refreshes
// the expired connection (`insertClash` in a one-worker run). `fast` has no
// such deferral and replaces it, as `global-lock` (the `fixed` rules over
// one map) does: against `global-lock`, the results are equal everywhere.

func deterministicRun(design: String, variant: Variant? = nil, scenario: ScenarioKind,
                      lookupBatch: Int? = nil) throws -> RunReport {
    var cfg = RunConfig()
    cfg.design = design
    cfg.table = TableConfig(buckets: 1024, hashSeed: TableDesigns.named(design)!.traits.hashSeed(7), variant: variant)
    cfg.table.lookupBatch = lookupBatch
    cfg.scenario.scenario = scenario
    cfg.scenario.flows = 1000
    cfg.scenario.packets = 40_000
    cfg.scenario.duration = 900 * sec
    cfg.threads = 1
    cfg.deterministic = true
    cfg.reaperStartDelay = 0
    return try Runner.run(cfg)
}

/// The counters a packet's handling decides (not how removals are counted).
func packetOutcomes(_ r: RunReport) -> [String: UInt64] {
    var o: [String: UInt64] = ["packets": r.packets, "lookups": r.lookups, "found": r.found, "notFound": r.notFound,
                               "created": r.created, "insertFailed": r.insertFailed, "trackerInit": r.trackerInit]
    for (k, v) in r.trackerResults { o["tracker." + k] = v }
    return o
}

@Suite(.oneThread) struct FastDesignTests {
    @Test(arguments: ScenarioKind.allCases)
    func trackerResultsAreThoseOfTheFixedRules(_ s: ScenarioKind) throws {
        let fast = try deterministicRun(design: "fast", scenario: s)
        let global = try deterministicRun(design: "global-lock", scenario: s)
        let fixed = try deterministicRun(design: "buckets", variant: .fixed, scenario: s)
        #expect(packetOutcomes(fast) == packetOutcomes(global))
        if fixed.insertClash == 0 {
            #expect(packetOutcomes(fast) == packetOutcomes(fixed))
        } else {
            // Each resurrection is a connection `fixed` did not create.
            #expect(packetOutcomes(fast)["created"]! > fixed.created)
        }
        #expect(fast.invariants.ok && fast.outcome == .ok)
        // Connections left are those created less those removed, by whoever removed them.
        #expect(fast.live == Int64(fast.created) - Int64(fast.removedInline + fast.removedByReaper + fast.removedOther))
    }

    /// Batching changes when lines are fetched, never what happens to a
    /// packet: the deterministic counters are the same at every batch size.
    @Test func theLookupBatchChangesNoCounter() throws {
        let one = try deterministicRun(design: "fast", scenario: .mix, lookupBatch: 1)
        for b in [16, 64] {
            let r = try deterministicRun(design: "fast", scenario: .mix, lookupBatch: b)
            #expect(packetOutcomes(r) == packetOutcomes(one), "batch \(b)")
            #expect(r.removedByReaper == one.removedByReaper && r.live == one.live && r.livePeak == one.livePeak)
        }
    }
}
