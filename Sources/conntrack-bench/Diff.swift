import ArgumentParser
import ConnTrack
import Harness
import Sync

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two `run --json` reports (single runs or --repeats) counter by counter and figure by figure; exit 1 when throughput or latency regressed beyond the threshold and the spreads do not overlap.",
        discussion: "With --exact: check that two deterministic runs are the same run (every counter, the run's identity, the reaper's interval sequence, chain and occupancy distributions, invariants, lock order); exit 1 on any difference.")

    @Argument(help: "The baseline report (JSON from run --json).")
    var baseline: String
    @Argument(help: "The report to check against it.")
    var candidate: String
    @Option(help: "Regression threshold, percent (0...1000), e.g. 5%.")
    var threshold: String = "5%"
    @Flag(help: "Compare everything a deterministic run fixes, field by field, and fail on any difference (wall-clock and process-wide figures are left out).")
    var exact = false

    mutating func run() throws {
        let t = threshold.hasSuffix("%") ? String(threshold.dropLast()) : threshold
        guard let pct = Double(t), pct >= 0, pct <= 1000 else {
            throw ValidationError("--threshold must be a percentage in 0...1000 (e.g. 5%), got '\(threshold)'")
        }
        let diff = ReportDiff(baseline: try usage { () throws(ConfigError) in try ReportDiff.load(baseline) },
                              candidate: try usage { () throws(ConfigError) in try ReportDiff.load(candidate) },
                              thresholdPercent: pct)
        if exact {
            let differences = diff.exactDifferences()
            for d in differences { print("\(candidate): \(d)") }
            print("diff --exact: \(differences.isEmpty ? "same run" : "\(differences.count) difference(s)") (\(Metric.counters.count) counters and the run's identity)")
            if !differences.isEmpty { throw ArgumentParser.ExitCode(Sync.ExitCode.regression) }
            return
        }
        let (lines, regressions) = diff.compare()
        for l in lines { print(l) }
        if !regressions.isEmpty {
            print("diff: regression in \(regressions.joined(separator: ", "))")
            throw ArgumentParser.ExitCode(Sync.ExitCode.regression)
        }
        print("diff: no regression")
    }
}
