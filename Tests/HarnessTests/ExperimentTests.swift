import Testing
@testable import ConnTrack
@testable import Harness
import TestSupport

/// `compare` and `sweep` find designs and policies through the registry and
/// the knobs they declare: a new design runs in both without an edit.
@Suite(.oneThread) struct ExperimentTests {
    static func base(_ design: String, policy: ReaperPolicyChoice? = nil) -> RunConfig {
        var c = RunConfig()
        c.design = design
        let t = TableDesigns.named(design)!.traits
        c.table = TableConfig(buckets: 256, hashSeed: t.hasHashSeed ? 42 : nil)
        c.scenario.flows = 300
        c.scenario.packets = 6_000
        c.scenario.duration = 120 * Duration_ns.second
        c.threads = 1
        c.chunk = 2048
        c.policy = policy ?? (t.defaultPolicy == "linux2022" ? .linux2022(Linux2022ReaperPolicy()) : .seed(SeedReaperPolicy()))
        return c
    }

    static let policies: [ReaperPolicyChoice] = [.seed(SeedReaperPolicy()), .linux2022(Linux2022ReaperPolicy()), .cilium(CiliumReaperPolicy()),
                                                 .ovs(OVSReaperPolicy())]

    /// Every knob of every design and policy sets what it reads.
    @Test(arguments: TableDesigns.names)
    func knobsRoundTrip(_ design: String) {
        for p in Self.policies {
            var c = Self.base(design, policy: p)
            for axis in SweepAxis.knobs(of: c).map({ SweepAxis(setting: $0, values: []) }) {
                let v = axis.range.lowerBound + (axis.range.upperBound - axis.range.lowerBound) / 3
                axis.apply(v, to: &c)
                #expect(axis.value(in: c) == v, "\(design)/\(p.name): \(axis.name)")
            }
        }
    }

    /// A sweep of any design over its first knob and its policy's runs, one
    /// point per value, and names its settings in every output.
    @Test(arguments: TableDesigns.names)
    func sweepRunsAnyDesign(_ design: String) throws {
        let c = Self.base(design)
        let all = try SweepAxis.axes(for: c, vary: [])
        #expect(all.map(\.name) == SweepAxis.knobs(of: c).map { SweepAxis(setting: $0, values: []).name })
        let vary = all.prefix(1).map { ($0.name, [$0.values.first!]) } + all.dropFirst().suffix(1).map { ($0.name, Array($0.values.prefix(2))) }
        let sweep = try Sweep(base: c, axes: SweepAxis.axes(for: c, vary: vary), threads: [1], repeats: 1)
        let result = try sweep.run(progress: { _ in })
        #expect(result.points.count == sweep.grid().count)
        let files = try result.files()
        let csv = try #require(files.first { $0.name == "sweep.csv" }?.contents)
        #expect(csv.split(separator: "\n").count == result.points.count + 1)
        for (name, _) in vary { #expect(csv.hasPrefix(name) || csv.contains("," + name + ",")) }
        #expect(files.contains { $0.name == "recommendation.txt" })
    }

    @Test func sweepRefusesAnUnknownSetting() {
        let c = Self.base("fast")
        #expect(throws: ConfigError.self) { try SweepAxis.axes(for: c, vary: [("fraction", [16])]) }
        do { _ = try SweepAxis.axes(for: c, vary: [("nosuch", [1])]) } catch {
            #expect(error.description.contains("allowed: buckets, lookup-batch, linux-buckets-per-pass"))
        }
        #expect(throws: ConfigError.self) { try SweepAxis.axes(for: Self.base("buckets"), vary: [("buckets", [0])]) }
    }

    /// compare runs every registry entry that accepts the options.
    @Test func comparisonTakesEveryRegisteredDesign() {
        var skipped: [String] = []
        let entries = Comparison.entries(Self.base("buckets"), hashSeed: 7, policy: { _, _ in nil }, sized: false, skipped: { skipped.append($0) })
        #expect(entries.map(\.label) == TableDesigns.entries.map(\.label))
        #expect(skipped.isEmpty)
        for (label, c) in entries { #expect(c.table.hashSeed == (c.traits.hasHashSeed ? 7 : nil), "\(label)") }
    }
}

/// Sparse lock-step windows merge up to the stated span.
@Suite struct WindowMergeTests {
    static func sparse(_ minPackets: Int, maxMs: Int64 = 1000) -> RunConfig {
        var c = RunConfig()
        c.table = TableConfig(buckets: 1024, hashSeed: 42, variant: .fixed)
        c.scenario.flows = 500
        c.scenario.packets = 20_000
        c.scenario.duration = 200 * Duration_ns.second  // 100 packets per 1 s: 10 per 100 ms window
        c.threads = 2
        c.chunk = 4096
        c.windowMinPackets = minPackets
        c.windowMaxNanos = maxMs * Duration_ns.millisecond
        return c
    }

    @Test func sparseWindowsMerge() throws {
        let plain = try Runner.run(Self.sparse(0))
        let merged = try Runner.run(Self.sparse(4096))
        let capped = try Runner.run(Self.sparse(4096, maxMs: 100))
        let w0 = try #require(plain.determinism.windows), w1 = try #require(merged.determinism.windows)
        // About 2000 windows of 100 ms hold packets; merged to 1 s spans, about 200.
        #expect(w0 >= 1900)
        #expect(w1 <= w0 / 8)
        #expect(capped.determinism.windows == w0, "a maximum of one window merges nothing")
        for r in [plain, merged, capped] {
            #expect(r.packets == 20_000)
            #expect(r.invariants.ok)
            #expect(r.live == Int64(r.created) - Int64(r.removedInline + r.removedByReaper + r.removedOther))
        }
        #expect(merged.determinism.statement.contains("merged while they hold fewer than 4096 packets"))
        #expect(!plain.determinism.statement.contains("merged"))
    }
}
