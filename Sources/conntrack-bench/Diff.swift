import ArgumentParser
import ConnTrack
import Foundation
import Harness
import Sync

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two `run --json` reports (single runs or --repeats) counter by counter and figure by figure; exit 1 when throughput or latency regressed beyond the threshold and the spreads do not overlap.")

    @Argument(help: "The baseline report (JSON from run --json).")
    var baseline: String
    @Argument(help: "The report to check against it.")
    var candidate: String
    @Option(help: "Regression threshold, percent (0...1000), e.g. 5%.")
    var threshold: String = "5%"

    /// A report's figures, whether it holds one run or several.
    struct Side {
        var runs: [RunReport]
        var pps: Spread
        var p99: Spread
        var name: String
    }

    static func load(_ path: String) throws -> Side {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read '\(path)'")
        }
        let dec = JSONDecoder()
        if let rep = try? dec.decode(RepeatedRun.self, from: data), rep.kind == "repeats" {
            return Side(runs: rep.runs, pps: rep.packetsPerSecond, p99: rep.latencyP99Nanos, name: path)
        }
        do {
            let r = try dec.decode(RunReport.self, from: data)
            guard r.schemaVersion == RunReport.schemaVersion else {
                throw ValidationError("'\(path)' has report schema \(r.schemaVersion); this build reads \(RunReport.schemaVersion)")
            }
            return Side(runs: [r], pps: Spread([r.packetsPerSecond]), p99: Spread([r.latencyNanos.p99]), name: path)
        } catch let e as ValidationError {
            throw e
        } catch {
            throw ValidationError("'\(path)' is not a run report (JSON from run --json, schema \(RunReport.schemaVersion))")
        }
    }

    mutating func run() throws {
        let t = threshold.hasSuffix("%") ? String(threshold.dropLast()) : threshold
        guard let pct = Double(t), pct >= 0, pct <= 1000 else {
            throw ValidationError("--threshold must be a percentage in 0...1000 (e.g. 5%), got '\(threshold)'")
        }
        let a = try Self.load(baseline), b = try Self.load(candidate)
        let ra = a.runs[0], rb = b.runs[0]
        print("diff: \(baseline) (\(a.runs.count) run(s)) -> \(candidate) (\(b.runs.count) run(s)), threshold \(ReportFormatter.f(pct, 1)) %")
        if ra.design != rb.design || ra.variant != rb.variant || ra.scenario != rb.scenario || ra.threads != rb.threads {
            print("  note: different configurations: \(ra.variant)/\(ra.scenario ?? "pcap")/\(ra.threads)w vs \(rb.variant)/\(rb.scenario ?? "pcap")/\(rb.threads)w")
        }
        // Figures: a regression needs both the threshold and non-overlapping spreads.
        var regressions: [String] = []
        func figure(_ name: String, _ x: Spread, _ y: Spread, higherIsBetter: Bool, scale: Double, unit: String, digits: Int) {
            let change = x.mean != 0 ? (y.mean - x.mean) / x.mean * 100 : 0
            let worse = higherIsBetter ? -change : change
            let overlap = x.overlaps(y)
            let verdict = worse > pct && !overlap ? "REGRESSION" : worse > pct ? "worse, within the spread" : worse < -pct && !overlap ? "better" : "same"
            if verdict == "REGRESSION" { regressions.append(name) }
            print("  " + name.padding(toLength: 19, withPad: " ", startingAt: 0)
                  + "\(x.text(scale: scale, digits: digits, unit: unit)) -> \(y.text(scale: scale, digits: digits, unit: unit))  (\(change >= 0 ? "+" : "")\(ReportFormatter.f(change, 1)) %)  \(verdict)")
        }
        figure("packets/s", a.pps, b.pps, higherIsBetter: true, scale: 1e6, unit: " M", digits: 2)
        figure("latency p99", a.p99, b.p99, higherIsBetter: false, scale: 1, unit: " ns", digits: 0)
        // Counters: listed where they differ.
        let counters: [(String, (RunReport) -> Int64)] = [
            ("packets", { Int64($0.packets) }), ("lookups", { Int64($0.lookups) }), ("found", { Int64($0.found) }),
            ("created", { Int64($0.created) }), ("insert clash", { Int64($0.insertClash) }),
            ("insert_failed", { Int64($0.insertFailed) }), ("drop", { Int64($0.drop) }), ("early_drop", { Int64($0.earlyDrop) }),
            ("removed inline", { Int64($0.removedInline) }), ("removed by reaper", { Int64($0.removedByReaper) }),
            ("deferred events", { Int64($0.deferredByLockOrder) }), ("live", { $0.live }),
            ("expired at end", { Int64($0.expiredStillLinkedAtEnd) }), ("reaper passes", { Int64($0.reaperPasses) }),
            ("chain max", { Int64($0.chainWalked.max) }),
        ]
        var same = 0
        for (name, f) in counters {
            let x = f(ra), y = f(rb)
            if x == y { same += 1; continue }
            let change = x != 0 ? Double(y - x) / Double(x) * 100 : 0
            print("  " + name.padding(toLength: 19, withPad: " ", startingAt: 0) + "\(x) -> \(y)  (\(change >= 0 ? "+" : "")\(ReportFormatter.f(change, 2)) %)")
        }
        print("  \(same) of \(counters.count) counters identical" + (ra.invariants.ok && rb.invariants.ok ? "" : "; invariants: \(ra.invariants.ok ? "ok" : "VIOLATED") -> \(rb.invariants.ok ? "ok" : "VIOLATED")"))
        for w in Set(b.runs.flatMap(\.warnings)).sorted() { print("  WARNING in \(candidate): \(w)") }
        if !regressions.isEmpty {
            print("diff: regression in \(regressions.joined(separator: ", "))")
            throw ArgumentParser.ExitCode(Sync.ExitCode.regression)
        }
        print("diff: no regression")
    }
}
