import Foundation
import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import TestSupport

/// Runs of a workload: the report's phases and series add up, the
/// recovery is what its definition says, and a deterministic run is the
/// same run every time, on every design.
@Suite struct WorkloadRunTests {
    static let second: Int64 = 1_000_000_000

    /// 20 s of web traffic, a 5 s SYN flood, 35 s after; with 5 s timeouts
    /// for everything not established, the flood's connections turn to
    /// garbage 5 s after their SYN and the reaper has the rest of the run
    /// to clear them.
    static let flood = """
        name: small-flood
        components:
          web:
            arrivals: { rate: 300 }
            lifetime: { exponential: 2 }
            size: { constant: 8 }
            endings: { fin-client: 0.7, fin-server: 0.2, rst: 0.1 }
          flood:
            attack: syn-flood
            rate: 3000
        phases:
          - { name: before, duration: 20, run: { web: 1 } }
          - { name: flood, duration: 5, run: { web: 1, flood: 1 } }
          - { name: after, duration: 35, run: { web: 1 } }
        """

    static func config(design: String, threads: Int = 1) throws -> RunConfig {
        var c = RunConfig()
        c.design = design
        c.table = TableConfig(buckets: 1024, hashSeed: TableDesigns.named(design)?.traits.hasHashSeed == true ? 42 : nil)
        c.table.timeouts.other = 5 * second
        c.table.timeouts.synSent = 5 * second
        c.table.timeouts.udp = 5 * second
        c.table.timeouts.udpStream = 5 * second
        // Each design's own schedule, the seed's made to cover the table in 10 s.
        switch TableDesigns.named(design)?.traits.defaultPolicy {
        case "linux2022": c.policy = .linux2022(Linux2022ReaperPolicy())
        case "ovs": c.policy = .ovs(OVSReaperPolicy(sweepInterval: 5 * second))
        default:
            c.policy = .seed(SeedReaperPolicy(fraction: 16, maxExpiredPercent: 50, minInterval: 10_000_000,
                                              maxFullTraversal: 10 * second))
        }
        c.reaperStartDelay = 1 * second
        let w = try Workload.parse(yaml: flood, file: "small-flood.yaml")
        c.source = .workload(w, timeScale: 1)
        c.scenario.seed = 7
        c.threads = threads
        c.deterministic = threads == 1
        c.chunk = 4096
        c.checkLockOrder = true
        return c
    }

    @Test(.oneThread, arguments: TableDesigns.names)
    func aDeterministicRunAddsUpAndRepeatsItself(_ design: String) throws {
        let c = try Self.config(design: design)
        let a = try Runner.run(c), b = try Runner.run(c)
        let w = try #require(a.workload)
        #expect(a.source.kind == "workload" && a.source.workload == "small-flood")
        #expect(w.phases.map(\.name) == ["before", "flood", "after"])
        // A sample every virtual second from 0 to 60 inclusive.
        #expect(w.series.count == 61)
        #expect(w.series.map(\.virtualSeconds) == (0...60).map(Double.init))
        // The phases' packets are the run's.
        #expect(w.phases.reduce(0) { $0 + $1.packets } == a.packets)
        #expect(w.series.last?.packets == a.packets)
        // The samples' phases: (start, end] of each.
        for s in w.series.dropFirst() {
            let p = w.phases[s.phase]
            #expect(s.virtualSeconds > p.startSeconds && s.virtualSeconds <= p.endSeconds)
        }
        // Every recovery is what its definition says of the series.
        for (i, p) in w.phases.enumerated() {
            let inPhase = w.series.filter { $0.phase == i }
            #expect(p.recoverySeconds == WorkloadReport.recovery(Array(inPhase), phaseStart: p.startSeconds).seconds)
            #expect(p.garbagePeak == inPhase.map(\.garbage).max() ?? 0)
        }
        if design != "null" {
            // The flood's half-open connections are garbage 5 s after
            // their SYN, until the reaper reaches them.
            #expect(w.garbagePeak > 0, "no garbage after the flood: \(w.series.map(\.garbage))")
            // The flood's packets land in its phase (300 web connections
            // of 8 packets a second, and 3,000 SYNs a second).
            let rate = w.phases.map { Double($0.packets) / ($0.endSeconds - $0.startSeconds) }
            #expect(rate[1] > rate[0] + 2500 && rate[1] > rate[2] + 2500, "packets per virtual second by phase: \(rate)")
        }
        #expect(a.invariants.ok, "\(a.invariants.summary)")
        #expect(a.lockOrderViolations.isEmpty)
        // Deterministic: the same counters, series and recovery. Not
        // global-lock's: its Dictionary iterates in an order of its own per
        // instance unless SWIFT_DETERMINISTIC_HASHING is set (as
        // scripts/same-behaviour does), and its reaper walks that order.
        guard design != "global-lock" else { return }
        let bw = try #require(b.workload)
        #expect(a.packets == b.packets && a.created == b.created && a.live == b.live)
        #expect(w.series.map(\.garbage) == bw.series.map(\.garbage))
        #expect(w.series.map(\.live) == bw.series.map(\.live))
        #expect(w.phases.map(\.recoverySeconds) == bw.phases.map(\.recoverySeconds))
    }

    /// Two workers in lock-step windows: each plays its share of every
    /// component, and the samples come at the same virtual seconds.
    @Test(.racedElsewhere("the lock-step driver's races are the windowed tests'"))
    func aLockStepRunSamplesEverySecond() throws {
        let c = try Self.config(design: "fast", threads: 2)
        let r = try Runner.run(c)
        let w = try #require(r.workload)
        #expect(r.threads == 2)
        #expect(w.series.map(\.virtualSeconds) == (0...60).map(Double.init))
        #expect(w.phases.reduce(0) { $0 + $1.packets } == r.packets)
        // The same traffic as one worker's, within a few percent.
        let one = try Runner.run(try Self.config(design: "fast"))
        #expect(abs(Double(r.packets) / Double(one.packets) - 1) < 0.05)
        #expect(r.invariants.ok)
    }

    /// The adaptivity figures read the report's fields.
    @Test(.oneThread) func theAdaptivityFiguresReadTheReport() throws {
        let r = try Runner.run(try Self.config(design: "buckets"))
        let w = try #require(r.workload)
        #expect(Metric.garbagePeak.value(r) == Double(w.garbagePeak))
        #expect(Metric.catchUpReaperCPU.value(r) == w.catchUpReaperCPUSeconds)
        #expect(Metric.worstRecovery.value(r) == (w.unrecoveredChanges > 0 ? .infinity : w.worstRecoverySeconds))
        #expect(w.garbagePeak == w.series.map(\.garbage).max())
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        let node = try #require(json["workload"] as? [String: Any])
        #expect((node["garbagePeak"] as? NSNumber)?.intValue == w.garbagePeak)
        // Scenario runs have none of them.
        var c = RunConfig()
        c.scenario.packets = 2000
        c.scenario.flows = 100
        c.deterministic = true
        c.threads = 1
        let plain = try Runner.run(c)
        #expect(Metric.worstRecovery.value(plain) == nil && Metric.garbagePeak.value(plain) == nil)
    }

    /// The recovery's definition on a series made up for it.
    @Test(.oneThread) func recoveryIsTheFirstSampleAfterWhichGarbageStaysClean() {
        func s(_ t: Double, live: Int64, garbage: Int) -> WorkloadReport.Sample {
            WorkloadReport.Sample(virtualSeconds: t, phase: 1, packets: 0, created: 0, removed: 0, live: live, garbage: garbage,
                                  insertFailed: 0, drop: 0, earlyDrop: 0, reaperPasses: 0, reaperIntervalSeconds: 0,
                                  reaperCPUSeconds: 0, latencyP99Nanos: 0, rssBytes: 0, tableSeconds: 0)
        }
        // Clean throughout: 0 s.
        #expect(WorkloadReport.recovery([s(11, live: 100, garbage: 5), s(12, live: 100, garbage: 0)], phaseStart: 10) == (0, nil))
        // Over at 12 and 14, clean from 15 on: 5 s after the start at 10.
        let series = [s(11, live: 100, garbage: 2), s(12, live: 100, garbage: 50), s(13, live: 100, garbage: 4),
                      s(14, live: 100, garbage: 6), s(15, live: 100, garbage: 5), s(16, live: 100, garbage: 1)]
        #expect(WorkloadReport.recovery(series, phaseStart: 10) == (5, 4))
        // Still over at the end: no recovery.
        #expect(WorkloadReport.recovery(series + [s(17, live: 100, garbage: 9)], phaseStart: 10) == (nil, 6))
        // An empty table with garbage is over.
        #expect(WorkloadReport.recovery([s(11, live: 0, garbage: 1)], phaseStart: 10) == (nil, 0))
    }

    @Test(.oneThread) func aWorkloadNeedsBoundaries() throws {
        var c = try Self.config(design: "buckets", threads: 2)
        c.deterministic = false
        c.windowNanos = 0
        #expect(throws: ConfigError.self) { try c.validate() }
        c.windowNanos = 100_000_000
        c.clock = .real
        #expect(throws: ConfigError.self) { try c.validate() }
        c.clock = .virtual
        c.workloadSampleNanos = 0
        #expect(throws: ConfigError.self) { try c.validate() }
    }
}
