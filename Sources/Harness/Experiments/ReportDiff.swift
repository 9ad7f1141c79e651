import ConnTrack
import Foundation

/// Two reports (single runs or `--repeats`) compared figure by figure
/// through the metric catalogue: the regression gates judged on their
/// spreads, every other timing figure shown, and every counter that
/// differs listed. `exact` instead checks that two deterministic runs are
/// the same run: every counter, the run's identity and the reaper's
/// interval sequence.
public struct ReportDiff: Sendable {
    /// A report file's runs.
    public struct Side: Sendable {
        public var runs: [RunReport]
        public var name: String
        public func spread(_ m: Metric) -> Spread? {
            let v = runs.compactMap { m.value($0) }
            return v.isEmpty ? nil : Spread(v)
        }
    }

    public var baseline: Side
    public var candidate: Side
    /// Percent beyond which a worse regression gate is a regression.
    public var thresholdPercent: Double

    public init(baseline: Side, candidate: Side, thresholdPercent: Double) {
        self.baseline = baseline; self.candidate = candidate; self.thresholdPercent = thresholdPercent
    }

    /// Reads `run --json` output: one report or a `--repeats` file, of this
    /// schema version.
    public static func load(_ path: String) throws(ConfigError) -> Side {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError("cannot read '\(path)'") }
        let dec = JSONDecoder()
        if let rep = try? dec.decode(RepeatedRun.self, from: data), rep.kind == "repeats" {
            return Side(runs: rep.runs, name: path)
        }
        let r: RunReport
        do { r = try dec.decode(RunReport.self, from: data) } catch {
            if let v = try? dec.decode(Version.self, from: data), v.schemaVersion != RunReport.schemaVersion {
                throw ConfigError("'\(path)' has report schema \(v.schemaVersion); this build reads \(RunReport.schemaVersion)")
            }
            throw ConfigError("'\(path)' is not a run report (JSON from run --json, schema \(RunReport.schemaVersion))")
        }
        guard r.schemaVersion == RunReport.schemaVersion else {
            throw ConfigError("'\(path)' has report schema \(r.schemaVersion); this build reads \(RunReport.schemaVersion)")
        }
        return Side(runs: [r], name: path)
    }
    private struct Version: Decodable { var schemaVersion: Int }

    /// The comparison's lines and the regression gates that failed.
    public func compare() -> (lines: [String], regressions: [String]) {
        var lines: [String] = []
        var regressions: [String] = []
        let ra = baseline.runs[0], rb = candidate.runs[0]
        lines.append("diff: \(baseline.name) (\(baseline.runs.count) run(s)) -> \(candidate.name) (\(candidate.runs.count) run(s)), threshold \(ReportFormatter.f(thresholdPercent, 1)) %")
        if ra.design != rb.design || ra.variant != rb.variant || ra.scenario != rb.scenario || ra.threads != rb.threads {
            lines.append("  note: different configurations: \(ra.variant)/\(ra.scenario ?? "pcap")/\(ra.threads)w vs \(rb.variant)/\(rb.scenario ?? "pcap")/\(rb.threads)w")
        }
        if let pa = ra.provenance, let pb = rb.provenance {
            let d = pb.differences(from: pa)
            if !d.host.isEmpty {
                lines.append("  note: the reports come from different hosts (" + d.host.joined(separator: "; ") + "): a change of machine, not only of code")
            }
            if !d.build.isEmpty {
                lines.append("  note: the reports come from different builds (" + d.build.joined(separator: "; ") + ")")
            }
        } else {
            let missing = [(ra, baseline.name), (rb, candidate.name)].filter { $0.0.provenance == nil }.map(\.1)
            lines.append("  note: \(missing.joined(separator: " and ")) record\(missing.count == 1 ? "s" : "") no build or host (written before reports did): a change of machine cannot be told from a change of code")
        }
        // Every name whole, then two spaces: a name longer than a fixed
        // column would run into its value.
        let width = Metric.catalogue.map(\.name.count).max()! + 2
        func label(_ m: Metric) -> String { "  " + m.name.padding(toLength: width, withPad: " ", startingAt: 0) }
        // Timing figures with a direction: a regression needs both the
        // threshold and spreads that do not overlap, and only the gates fail.
        for m in Metric.catalogue where m.kind == .timing && m.higherIsBetter != nil {
            guard let x = baseline.spread(m), let y = candidate.spread(m) else { continue }
            let change = x.mean != 0 ? (y.mean - x.mean) / abs(x.mean) * 100 : 0
            let worse = m.higherIsBetter! ? -change : change
            let overlap = x.overlaps(y)
            let gate = Metric.regressionGates.contains(m)
            let verdict = worse > thresholdPercent && !overlap ? (gate ? "REGRESSION" : "worse")
                : worse > thresholdPercent ? "worse, within the spread"
                : worse < -thresholdPercent && !overlap ? "better" : "same"
            if verdict == "REGRESSION" { regressions.append(m.name) }
            guard gate || verdict != "same" else { continue }
            lines.append(label(m) + "\(m.text(x)) -> \(m.text(y))  (\(change >= 0 ? "+" : "")\(ReportFormatter.f(change, 1)) %)  \(verdict)")
        }
        // Counters: listed where they differ.
        var same = 0
        let counters = Metric.counters
        for m in counters {
            let x = m.value(ra), y = m.value(rb)
            if x == y { same += 1; continue }
            let change = (x ?? 0) != 0 ? ((y ?? 0) - x!) / abs(x!) * 100 : 0
            lines.append(label(m) + "\(x.map(m.format) ?? "-") -> \(y.map(m.format) ?? "-")  (\(change >= 0 ? "+" : "")\(ReportFormatter.f(change, 2)) %)")
        }
        lines.append("  \(same) of \(counters.count) counters identical" + (ra.invariants.ok && rb.invariants.ok ? ""
            : "; invariants: \(ra.invariants.ok ? "ok" : "VIOLATED") -> \(rb.invariants.ok ? "ok" : "VIOLATED")"))
        for w in Set(candidate.runs.flatMap(\.warnings)).sorted() { lines.append("  WARNING in \(candidate.name): \(w)") }
        return (lines, regressions)
    }

    /// The differences between two runs in everything a deterministic run
    /// fixes: every counter of the catalogue, the run's identity, the
    /// reaper's interval sequence (virtual time), chain and occupancy
    /// distributions, the hottest buckets, invariants and lock order.
    /// Wall-clock, process-wide and time-series figures are left out.
    public func exactDifferences() -> [String] {
        let a = baseline.runs[0], b = candidate.runs[0]
        var out: [String] = []
        func check<T: Equatable>(_ name: String, _ f: (RunReport) -> T) {
            let x = f(a), y = f(b)
            if x != y { out.append("\(name): \(String(describing: x).prefix(200)) != \(String(describing: y).prefix(200))") }
        }
        for m in Metric.counters { check(m.id) { m.value($0) } }
        check("design") { $0.design }; check("variant") { $0.variant }; check("scenario") { $0.scenario }
        check("buckets") { $0.buckets }; check("threads") { $0.threads }; check("clock") { $0.clock }
        check("deterministic") { $0.deterministic }; check("hashSeed") { $0.hashSeed }; check("flowSeed") { $0.flowSeed }
        check("policy") { $0.policy }; check("faults") { $0.faults }
        check("workload") { $0.source.workload }; check("timeScale") { $0.source.timeScale }
        check("reaperIntervalsMillis") { $0.reaperIntervalsMillis }
        check("chainWalked") { [Double($0.chainWalked.count), $0.chainWalked.p50, $0.chainWalked.p99, $0.chainWalked.max, $0.chainWalked.mean] as [Double] }
        check("occupancyAtEnd") { [Double($0.occupancyAtEnd.count), $0.occupancyAtEnd.p50, $0.occupancyAtEnd.p99, $0.occupancyAtEnd.max, $0.occupancyAtEnd.mean] as [Double] }
        check("hottestBuckets") { $0.hottestBuckets }
        check("invariants") { $0.invariants.summary }
        check("lockOrderViolations") { $0.lockOrderViolations }
        check("restoredConnections") { $0.restoredConnections }
        check("interrupted") { $0.interrupted }
        check("determinism.mode") { $0.determinism.mode }
        return out
    }
}
