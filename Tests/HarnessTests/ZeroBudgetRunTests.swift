import Testing
@testable import ConnTrack
@testable import Harness
import TestSupport

/// Runs with fewer buckets than the seed's `--fraction`: they go ahead, as
/// the 2020 code does, with one warning; the seed's passes check nothing.
@Suite(.oneThread) struct ZeroBudgetRunTests {
    static let cap: Int64 = 468_750_000

    func config(design: String = "buckets", buckets: Int, policy: ReaperPolicyChoice = .seed(SeedReaperPolicy())) -> RunConfig {
        var c = RunConfig()
        c.design = design
        c.table = TableConfig(buckets: buckets)
        let traits = c.traits
        if traits.hasHashSeed { c.table.hashSeed = 42 }
        if traits.supportsVariants { c.table.variant = .seed2020 }
        c.policy = policy
        c.scenario.scenario = .churn
        c.scenario.flows = 500
        c.scenario.packets = 20_000
        // Past the 120 s timeout of closed connections.
        c.scenario.duration = 300 * Duration_ns.second
        c.threads = 1
        c.deterministic = true
        c.chunk = 8192
        return c
    }

    @Test(arguments: [64, 7])
    func seed2020PassesCheckNoBucketAndOnlyInlineReapingRemoves(_ buckets: Int) throws {
        let c = config(buckets: buckets)
        try c.validate()
        let warning = "--fraction 128 exceeds the \(buckets) buckets: every reaper pass checks no bucket (buckets/fraction = 0, as in the 2020 code), so only inline reaping removes connections"
        #expect(c.configWarnings == [warning])
        let r = try Runner.run(c)
        #expect(r.warnings.contains(warning))
        #expect(r.outcome == .ok)
        #expect(r.reaperChecked == 0 && r.reaperExpired == 0)
        #expect(r.removedByReaper == 0)
        #expect(r.removedInline > 0)
        // Due at 5 s + k × 468.75 ms up to the last packet's time, each
        // scheduling the next after the cap (the first from 5 s + 10 ms).
        let end = Int64(r.virtualSeconds * 1e9)
        let passes = Int((end - 5 * Duration_ns.second) / Self.cap) + 1
        #expect(r.reaperPasses == passes)
        #expect(r.reaperIntervalsMillis == Array(repeating: 468.75, count: passes))
    }

    /// Other designs and policies with 7 slots: the seed's passes check
    /// none (with the warning); linux2022 and cilium budget their passes
    /// over the whole table, so they walk it, and nothing is said.
    @Test(arguments: ["buckets", "global-lock", "fast", "null"], ["seed", "linux2022", "cilium"])
    func otherDesignsAndPoliciesRunWithFewSlots(_ design: String, _ policy: String) throws {
        let p: ReaperPolicyChoice = switch policy {
        case "seed": .seed(SeedReaperPolicy())
        case "linux2022": .linux2022(Linux2022ReaperPolicy())
        default: .cilium(CiliumReaperPolicy())
        }
        let c = config(design: design, buckets: 7, policy: p)
        try c.validate()
        let r = try Runner.run(c)
        #expect(r.outcome == .ok)
        let tracks = c.traits.tracksConnections
        #expect(c.configWarnings.count == (policy == "seed" && tracks ? 1 : 0))
        #expect(r.reaperPasses > 0)
        if policy == "seed" {
            #expect(r.reaperChecked == 0 && r.removedByReaper == 0)
        } else if tracks {
            #expect(r.reaperChecked > 0)
        }
    }
}
