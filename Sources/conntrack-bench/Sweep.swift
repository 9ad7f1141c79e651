import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a grid of any design's and reaper policy's settings x worker counts, write CSV/JSON and SVG plots, and recommend settings.",
        discussion: "The settings are the knobs the design and its policy declare (buckets: --buckets; fast: --buckets, --lookup-batch; seed: --fraction, --max-expired-pct; linux2022: --linux-buckets-per-pass; cilium: --cilium-shrink-above-pct, --cilium-grow-below-pct; ovs: --max-connections; ovs policy: --ovs-sweep-ms, --ovs-pass-divisor, --ovs-resume-ms). With no --vary every knob is varied over its default grid; with --vary only the knobs named, the others at the options' values.")

    @OptionGroup var table: TableOptions
    @OptionGroup var reaper: ReaperOptions
    @OptionGroup var scenario: ScenarioArgs
    @OptionGroup var driver: DriverOptions
    @Option(help: "Vary one setting over these values, as NAME=V1,V2,… (repeatable), e.g. --vary buckets=1024,16384 --vary fraction=16,128.")
    var vary: [String] = []
    @Option(help: "Worker counts, comma-separated (1...64).")
    var threadsList: String = "1,2"
    @Option(help: "Repetitions per point (1...20); figures are medians with min … max, plotted with error bars.")
    var repeats: Int = 1
    @Option(help: "Output directory (created; existing files replaced).")
    var out: String = "sweep-out"
    @Flag(help: "No progress lines on standard error (one per run as it ends).")
    var noProgress = false
    @Option(help: "With --workload: the most reaper CPU a recommended setting may use, percent of one CPU at the workload's real-time pace (reaper CPU seconds over virtual seconds; 0.01...100, default 10).")
    var reaperCpuBudget: Double?

    mutating func run() throws {
        var base = try makeRunConfig(table, reaper, scenario, driver)
        drawDefaultSeeds(&base)
        let varied = try vary.map { spec -> (String, [Int]) in
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--vary takes NAME=V1,V2,… (e.g. buckets=1024,16384), got '\(spec)'")
            }
            let name = parts[0].hasPrefix("--") ? String(parts[0].dropFirst(2)) : parts[0]
            return (name, try intList(parts[1], "--vary \(name)", Int.min...Int.max))
        }
        let threads = try intList(threadsList, "--threads-list", 1...64)
        if let b = reaperCpuBudget {
            guard case .workload = base.source else { throw ValidationError("--reaper-cpu-budget applies to sweep --workload") }
            guard b >= 0.01 && b <= 100 else { throw ValidationError("--reaper-cpu-budget must be in 0.01...100 percent, got \(b)") }
        }
        var sweep = try usage { () throws(ConfigError) in
            try Harness.Sweep(base: base, axes: SweepAxis.axes(for: base, vary: varied), threads: threads, repeats: repeats)
        }
        if let b = reaperCpuBudget { sweep.reaperCPUBudget = b / 100 }
        let dir = try OutputDirectory(out, option: "--out")
        let result = try usage { () throws(ConfigError) in try sweep.run(progress: { [noProgress] line in if !noProgress { writeLine(2, line) } }) }
        try dir.create()
        let files = try result.files()
        for (name, contents) in files { try dir.file(name).write(contents) }
        // An earlier sweep's outputs this one did not write go.
        let written = Set(files.map(\.name))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        where SweepResult.isSweepOutput(name) && !written.contains(name) {
            try? FileManager.default.removeItem(atPath: dir.path + "/" + name)
        }
        print(result.recommendation, terminator: "")
    }
}
