import ConnTrack
import FlowGen
import Foundation
@testable import Harness
import Testing
import TestSupport

// The example plugin (Sources/ExampleDesign, loaded through the C ABI) is
// the bucket table's `fixed` rules in C: in deterministic runs its report
// equals `--variant fixed`'s counter for counter, on every scenario and
// under every reaper policy, including the reaper's interval sequence.

/// The example plugin, as `swift build` puts it beside the products
/// (`.build/<config>/libExampleDesign.so`), else built here with cc from
/// its source; nil only when neither is possible.
enum ExamplePlugin {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let path: String? = {
        let fm = FileManager.default
        var dirs: [URL] = []
        for exe in [Bundle.main.executableURL, Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap({ $0 }) {
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<4 { dirs.append(dir); dir = dir.deletingLastPathComponent() }
        }
        dirs += [root.appendingPathComponent(".build/debug"), root.appendingPathComponent(".build/release")]
        if let found = dirs.map({ $0.appendingPathComponent("libExampleDesign.so").path }).first(where: fm.fileExists) {
            return found
        }
        // `swift test` may not have built the library product: build it.
        guard let cc = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first(where: fm.isExecutableFile) else { return nil }
        let out = fm.temporaryDirectory.appendingPathComponent("ctb-example-\(getpid()).so").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cc)
        p.arguments = ["-shared", "-fPIC", "-O2", "-std=c11", "-fvisibility=hidden", "-pthread",
                       "-I", root.appendingPathComponent("Sources/CTBDesignABI/include").path,
                       root.appendingPathComponent("Sources/ExampleDesign/example_design.c").path, "-o", out]
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? out : nil
    }()

    static var spec: String? { path.map { PluginLoader.prefix + $0 } }

    /// The loaded plugin's entry (nil when it could not be found or built).
    static let entry: DesignEntry? = {
        guard let spec, let t = TableDesigns.named(spec) else { return nil }
        return DesignEntry(design: t, variant: nil)
    }()
}

func deterministicReport(design: String, variant: Variant? = nil, scenario: ScenarioKind, buckets: Int,
                         policy: ReaperPolicyChoice? = nil, limit: Int? = nil,
                         timeouts: Timeouts.Mode = .seed, checkLockOrder: Bool = true) throws -> RunReport {
    var cfg = RunConfig()
    cfg.checkLockOrder = checkLockOrder
    cfg.design = design
    cfg.table = TableConfig(buckets: buckets, hashSeed: 7, variant: variant, timeouts: Timeouts(mode: timeouts),
                            maxConnections: limit)
    cfg.scenario.scenario = scenario
    cfg.scenario.flows = 3000
    cfg.scenario.packets = 30_000
    cfg.scenario.duration = 900 * sec
    cfg.threads = 1
    cfg.deterministic = true
    cfg.reaperStartDelay = sec
    if let policy { cfg.policy = policy }
    return try Runner.run(cfg)
}

@Suite(.oneThread) struct PluginDesignTests {
    @Test func theExamplePluginLoads() throws {
        let e = try #require(ExamplePlugin.entry, "libExampleDesign.so not found beside the build and no cc to build it")
        #expect(e.traits.name == "example-buckets")
        #expect(e.traits.hasHashSeed && e.traits.sizedByBuckets && e.traits.connectionLimit && e.traits.locksObserved)
        #expect(TableDesigns.named("example-buckets") != nil)
    }

    struct Case: CustomStringConvertible, Sendable {
        var scenario: ScenarioKind
        var buckets: Int
        var policy: String
        var limit: Int? = nil
        var timeouts: Timeouts.Mode = .seed
        /// Off: the plugin counts uncontended acquisitions inline
        /// (`ctb_ctx.uncontended`) and skips the rank hooks.
        var checkLockOrder = true
        var description: String {
            "\(scenario) \(buckets) \(policy)\(limit.map { " limit \($0)" } ?? "") \(timeouts)"
                + (checkLockOrder ? "" : " unchecked")
        }
    }

    static let cases: [Case] = ScenarioKind.allCases.flatMap { s in [Case(scenario: s, buckets: 256, policy: "seed"),
                                                                      Case(scenario: s, buckets: 16384, policy: "seed")] }
        + [Case(scenario: .mix, buckets: 256, policy: "linux2022"), Case(scenario: .mix, buckets: 256, policy: "cilium"),
           // At a connection limit: early drop and drop.
           Case(scenario: .synflood, buckets: 256, policy: "seed", limit: 300),
           Case(scenario: .mix, buckets: 256, policy: "seed", limit: 300),
           Case(scenario: .churn, buckets: 256, policy: "seed", timeouts: .linux),
           Case(scenario: .mix, buckets: 256, policy: "seed", checkLockOrder: false),
           Case(scenario: .steady, buckets: 16384, policy: "linux2022", checkLockOrder: false)]

    /// `diff --exact`'s comparison: every counter of the catalogue, the
    /// reaper's interval sequence, chain and occupancy distributions,
    /// invariants and lock order; only the design's name differs.
    @Test(arguments: cases)
    func theExamplePluginReportsWhatFixedReports(_ c: Case) throws {
        let spec = try #require(ExamplePlugin.spec)
        let policy: ReaperPolicyChoice = switch c.policy {
        case "linux2022": .linux2022(Linux2022ReaperPolicy())
        case "cilium": .cilium(CiliumReaperPolicy())
        default: .seed(SeedReaperPolicy())
        }
        let fixed = try deterministicReport(design: "buckets", variant: .fixed, scenario: c.scenario, buckets: c.buckets,
                                            policy: policy, limit: c.limit, timeouts: c.timeouts,
                                            checkLockOrder: c.checkLockOrder)
        let plugin = try deterministicReport(design: spec, scenario: c.scenario, buckets: c.buckets, policy: policy,
                                             limit: c.limit, timeouts: c.timeouts, checkLockOrder: c.checkLockOrder)
        let diff = ReportDiff(baseline: .init(runs: [fixed], name: "fixed"), candidate: .init(runs: [plugin], name: "plugin"),
                              thresholdPercent: 5).exactDifferences()
        #expect(diff.filter { !$0.hasPrefix("design:") && !$0.hasPrefix("variant:") }.isEmpty, "\(diff)")
        #expect(plugin.reaperIntervalsMillis == fixed.reaperIntervalsMillis && !plugin.reaperIntervalsMillis.isEmpty)
        #expect(plugin.invariants.ok && plugin.created > 0)
        #expect(plugin.bucketLocks.acquisitions > 0 && plugin.bucketLocks.acquisitions == fixed.bucketLocks.acquisitions
                && plugin.connectionLocks.acquisitions == fixed.connectionLocks.acquisitions
                && plugin.tableLock.acquisitions == fixed.tableLock.acquisitions)
        if c.limit != nil { #expect(plugin.earlyDrop > 0 && fixed.earlyDrop == plugin.earlyDrop) }
    }
}
