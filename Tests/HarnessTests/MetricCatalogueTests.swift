import Foundation
import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import TestSupport

/// The catalogue is the one home of every figure: its JSON keys are the
/// report's, its values are what the report holds, and the documentation
/// lists exactly its entries.
@Suite(.oneThread) struct MetricCatalogueTests {
    static func report(design: String = "buckets", threads: Int = 1) throws -> RunReport {
        var c = RunConfig()
        c.design = design
        c.table = TableConfig(buckets: 256, hashSeed: 42)
        c.scenario.flows = 500
        c.scenario.packets = 20_000
        c.scenario.duration = 300 * Duration_ns.second
        c.threads = threads
        c.deterministic = threads == 1
        c.chunk = 4096
        if !(c.designType?.traits.hasHashSeed ?? false) { c.table.hashSeed = nil }
        return try Runner.run(c)
    }

    @Test func idsAreUnique() {
        let ids = Metric.catalogue.map(\.id)
        #expect(Set(ids).count == ids.count)
    }

    /// Every figure with a JSON key reads the value at that key of the
    /// encoded report, so the catalogue cannot drift from the schema.
    @Test(arguments: TableDesigns.names)
    func jsonKeysNameTheReportsFields(_ design: String) throws {
        let r = try Self.report(design: design)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        for m in Metric.catalogue {
            guard let key = m.jsonKey else { continue }
            var node: Any? = json
            for part in key.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
            let value = m.value(r)
            if value == nil {
                #expect(node == nil || node is NSNull, "\(m.id): the report has \(String(describing: node)) but the metric reads nil")
                continue
            }
            let number = try #require(node as? NSNumber, "\(m.id): no number at \(key)")
            // JSON round-trips a Double to within an ulp or so.
            #expect(abs(number.doubleValue - value!) <= 1e-12 * max(1, abs(value!)), "\(m.id): \(number) at \(key), metric reads \(value!)")
        }
    }

    /// The operation figures summarise the run's `--op` operations: the
    /// longest, the lowest rate, the worst latency, the summed waits; none
    /// without operations.
    @Test func operationFiguresSummariseTheRunsOperations() throws {
        var r = try Self.report()
        for m in [Metric.longestOperation, .packetsPerSecondDuringOperation, .latencyMaxDuringOperation, .operationLockWait] {
            #expect(m.value(r) == nil, "\(m.id) without operations")
        }
        func op(_ ms: Double, _ pps: Double, _ latencyMax: Double?, _ wait: Double) -> OperationReport {
            OperationReport(kind: "dump", spec: "dump@1", dueSeconds: 1, startedAtSeconds: 1, wallOffsetSeconds: 0,
                            durationMillis: ms, counts: nil, bytes: nil, stats: nil, packetsDuring: 0,
                            packetsPerSecondDuring: pps, packetsPerSecondBefore: nil, beforeSeconds: nil,
                            latencyDuring: latencyMax.map { .init(samples: 1, p50: $0, p99: $0, p999: $0, max: $0) },
                            latencyBefore: nil, workerLockWaitMillis: wait, perMillisecond: [],
                            perMillisecondStartOffsetMillis: 0)
        }
        r.operations = OperationsReport(operations: [op(7, 2e6, 900, 1.5), op(3, 5e5, nil, 2), op(5, 1e6, 4000, 0)], notRun: [])
        #expect(Metric.longestOperation.value(r) == 7)
        #expect(Metric.packetsPerSecondDuringOperation.value(r) == 5e5)
        #expect(Metric.latencyMaxDuringOperation.value(r) == 4000)
        #expect(Metric.operationLockWait.value(r) == 3.5)
    }

    /// Derived figures are what their summaries say.
    @Test func derivedFigures() throws {
        let r = try Self.report()
        #expect(Metric.foundPercent.value(r) == Double(r.found) * 100 / Double(r.lookups))
        #expect(Metric.setupRate.value(r) == Double(r.created) / r.tableSeconds)
        #expect(Metric.teardownRate.value(r) == Double(r.removedInline + r.removedByReaper + r.removedOther) / r.tableSeconds)
        let locks = [r.bucketLocks, r.connectionLocks, r.tableLock]
        let acquired = locks.map(\.acquisitions).reduce(0, +), contended = locks.map(\.contended).reduce(0, +)
        #expect(Metric.contendedPercent.value(r) == (acquired > 0 ? Double(contended) * 100 / Double(acquired) : 0))
    }

    /// A deterministic run repeated gives identical counters, and `diff
    /// --exact` agrees; the repeats' spreads come out of the catalogue.
    @Test func repeatsOfADeterministicRunAgree() throws {
        let a = try Self.report(), b = try Self.report()
        let diff = ReportDiff(baseline: .init(runs: [a], name: "a"), candidate: .init(runs: [b], name: "b"), thresholdPercent: 5)
        #expect(diff.exactDifferences().isEmpty)
        let rep = RepeatedRun([a, b])
        #expect(rep.varyingCounters.isEmpty)
        #expect(rep.boundChecks.isEmpty)
        #expect(rep.spread(.packetsPerSecond)?.n == 2)
    }

    @Test func exactDiffSeesADifferentRun() throws {
        let a = try Self.report()
        var b = a
        b.created += 1
        b.reaperIntervalsMillis.append(1)
        let d = ReportDiff(baseline: .init(runs: [a], name: "a"), candidate: .init(runs: [b], name: "b"), thresholdPercent: 5)
            .exactDifferences()
        #expect(d.contains { $0.hasPrefix("created:") })
        #expect(d.contains { $0.hasPrefix("reaperIntervalsMillis:") })
    }

    /// Every line of `diff` names its figure whole, two spaces before the
    /// values: "bucket lock acquisitions765,267" was a name cut to a column.
    @Test func diffLinesKeepNamesApartFromValues() throws {
        let a = try Self.report()
        var b = a
        b.created += 1
        b.bucketLocks.acquisitions += 1
        b.expiredSurvivingFullSweep += 1
        let lines = ReportDiff(baseline: .init(runs: [a], name: "a"), candidate: .init(runs: [b], name: "b"), thresholdPercent: 5)
            .compare().lines
        for name in ["created", "bucket lock acquisitions", "expired after full sweep"] {
            let line = try #require(lines.first { $0.hasPrefix("  " + name + "  ") }, "no line for \(name) in \(lines)")
            #expect(line.contains(" -> "))
        }
        // Every figure's line starts with a whole name and two spaces.
        for l in lines where l.contains(" -> ") && !l.hasPrefix("diff:") {
            #expect(Metric.catalogue.contains { l.hasPrefix("  " + $0.name + "  ") }, "\(l)")
        }
    }

    /// A worker below the starved line but busy too briefly to judge is not
    /// flagged, and its CPU line says why (a worker at 41 % was silently
    /// not flagged).
    @Test func aWorkerTooBriefToJudgeSaysSo() throws {
        var r = try Self.report()
        r.cpu.workers[0].cpuShareWhileBusy = 0.41
        r.cpu.workers[0].busySeconds = 0.01
        #expect(ReportFormatter.text(r).contains("41.0 % of a CPU while runnable; not judged starved: busy under 50 ms)"))
        r.cpu.workers[0].busySeconds = 0.2
        #expect(!ReportFormatter.text(r).contains("not judged starved"))
    }

    /// docs/metrics.md lists every figure of the catalogue, and nothing else.
    @Test func documentationListsTheCatalogue() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/metrics.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let documented = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).split(separator: "`").first.map(String.init)
        }
        #expect(documented == Metric.catalogue.map(\.id), "regenerate with: conntrack-bench metrics > docs/metrics.md")
    }
}

/// A plugin's knob is recommended, and set, as `--set NAME=VALUE`; a
/// built-in one by its own option.
@Test func knobsAreSpelledAsTheCommandLineSetsThem() {
    let plugin = Knob<TableConfig>("rounds", summary: "", range: 0...64, grid: [0, 8], viaSet: true,
                                   get: { $0.knobSettings["rounds"] ?? 0 }, set: { $0.knobSettings["rounds"] = $1 })
    #expect(plugin.arguments(8) == "--set rounds=8")
    #expect(Knob<TableConfig>.buckets("", grid: [64]).arguments(4096) == "--buckets 4096")
    #expect(SweepAxis(setting: .table(plugin), values: [0, 8]).arguments(8) == "--set rounds=8")
}
