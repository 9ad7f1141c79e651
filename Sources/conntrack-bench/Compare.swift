import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the same scenario on every registered design and variant (null: the harness's ceiling) and print their figures side by side.")

    @OptionGroup var table: TableOptions
    @OptionGroup var reaper: ReaperOptions
    @OptionGroup var scenario: ScenarioArgs
    @OptionGroup var driver: DriverOptions
    @Option(help: "Repetitions per design (1...100), interleaved A B C A B C …; figures are mean ± σ and min … max.")
    var repeats: Int = 1
    @Option(help: "Write all reports as JSON to this file.")
    var json: String?
    @Flag(help: "Also run every design sized by buckets with the buckets sized to the flows (the next power of two >= --flows), labelled design@buckets: the gain of sizing a table apart from the gain of a design.")
    var sized = false
    @Option(help: "Run the comparison once per flow count (comma-separated, each 1...50000000, at most 12 of them, e.g. 1000,10000,100000,1000000) and print throughput against flows; --flows is then ignored.")
    var flowsList: String?
    @Option(help: "With --flows-list: also write the plot of throughput against flows (log x-axis) as SVG to this file.")
    var plot: String?
    @Flag(help: "No progress lines on standard error (one per run as it ends).")
    var noProgress = false
    @Option(help: "Run each design once per reaper schedule listed (comma-separated: seed, linux2022, cilium, ovs; or all), labelled design/policy except the design's own; without it each design runs its own (or --policy).")
    var policies: String?
    @Option(help: "With --workload: write plots over virtual time of every run's garbage and reaper interval, phase boundaries marked, as SVG files in this directory (created).")
    var plots: String?

    mutating func run() throws {
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        guard table.variant == nil else {
            throw ValidationError("--variant does not apply to compare (it runs every variant of every design)")
        }
        // Every plugin named is loaded (or refused, exit 2) before anything runs.
        let plugins = table.designs.filter(PluginLoader.isPluginSpec)
        // Named twice, a design would run twice under one name, and its two
        // reports collide at the end, after every run.
        for (i, d) in table.designs.enumerated() where table.designs[..<i].contains(d) {
            throw ValidationError("--design names \(d) twice (each design runs once in a comparison)")
        }
        for spec in plugins { if let e = TableDesigns.loadError(spec) { throw ValidationError(e) } }
        let extra = plugins.compactMap { TableDesigns.named($0) }.map { DesignEntry(design: $0, variant: nil) }
        try TableOptions.checkKnobSettings(try table.parsedKnobSettings(), designs: extra.map(\.traits))
        var base = try makeRunConfig(table, reaper, scenario, driver, allowSeveralDesigns: true)
        let policyList = try policies.map { list -> [String] in
            guard self.reaper.policy == nil else { throw ValidationError("--policies and --policy exclude each other (--policies runs each design under every schedule listed)") }
            let all = PolicyName.allCases.filter { $0 != .off }.map(\.rawValue)
            let names = list == "all" ? all : list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            for n in names where !all.contains(n) {
                throw ValidationError("--policies: '\(n)' is not a reaper schedule (allowed: \(all.joined(separator: ", ")), or all)")
            }
            guard Set(names).count == names.count else { throw ValidationError("--policies names a schedule twice: \(list)") }
            guard names.contains("seed") else {
                throw ValidationError("--policies must include seed: compare's baseline is seed2020 under its own schedule (allowed: \(all.joined(separator: ", ")), or all)")
            }
            return names
        }
        // A setting of a schedule none of the runs uses is refused, as in `run`.
        let schedules: Set<PolicyName> = if let policyList { Set(policyList.compactMap(PolicyName.init)) }
            else { Set((TableDesigns.entries + extra).map { self.reaper.activePolicy(for: $0.traits) }) }
        try self.reaper.refuseInactiveSettings(active: schedules, who: "this comparison", viaPolicies: policyList != nil)
        let isWorkload = if case .workload = base.source { true } else { false }
        guard plots == nil || isWorkload else { throw ValidationError("--plots applies to compare --workload") }
        guard flowsList == nil || !isWorkload else { throw ValidationError("--flows-list does not apply to a workload: its file sets the flows") }
        let plotsOut = try plots.map { try OutputDirectory($0, option: "--plots") }
        // The base runs a built-in design; each entry names its own.
        if PluginLoader.isPluginSpec(base.design) { base.design = BucketTable.traits.name }
        drawDefaultSeeds(&base)
        // Without --policy, each design runs its own default schedule.
        let reaper = self.reaper, sized = self.sized
        let quiet = noProgress
        let progress = { (line: String) in if !quiet { writeLine(2, line) } }
        let entries = { (b: RunConfig, label: ((String, Int) -> String)?) in
            Comparison.entries(b, hashSeed: b.table.hashSeed ?? drawnHashSeed, policy: { traits, name in
                var r = reaper
                if let name { r.policy = PolicyName(rawValue: name) }
                return try r.choice(for: traits)
            }, policies: policyList, sized: sized, sizedLabel: label,
                               extra: extra, skipped: { writeLine(2, $0) })
        }
        if let flowsList {
            let flows = try usage { () throws(ConfigError) in try FlowsComparison.parse(flowsList) }
            guard (1...100).contains(repeats) else { throw ValidationError("--repeats must be in 1...100, got \(repeats)") }
            let plotOut = try plot.map { try OutputFile($0, option: "--plot") }
            let experiment = FlowsComparison(base: base, flows: flows, repeats: repeats)
            let result = try usage { () throws(ConfigError) in
                try experiment.run(entries: { entries($0, { label, _ in "\(label) (sized)" }) }, progress: progress)
            }
            print(experiment.text(result), terminator: "")
            try plotOut?.write(experiment.plot(result))
            return
        }
        guard plot == nil else { throw ValidationError("--plot needs --flows-list") }
        let comparison = try usage { () throws(ConfigError) in
            try Comparison(base: base, entries: entries(base, nil), repeats: repeats)
        }
        let result = try usage { () throws(ConfigError) in try comparison.run(progress: progress) }
        print(result.text, terminator: "")
        try jsonOut?.write(jsonBytes(result.report))
        if let plotsOut {
            try plotsOut.create()
            let runs = result.names.compactMap { n in result.summary(n).medianRun.workload.map { (label: n, report: $0) } }
            let name = runs.first?.report.name ?? "workload"
            try plotsOut.file("garbage.svg").write(WorkloadReport.overlay(runs, title: "garbage (expired, still linked): \(name)", yLabel: "connections") { Double($0.garbage) })
            try plotsOut.file("garbage-share.svg").write(WorkloadReport.overlay(runs, title: "garbage over live: \(name)", yLabel: "% of live") {
                $0.live > 0 ? Double($0.garbage) * 100 / Double($0.live) : 0
            })
            try plotsOut.file("reaper-interval.svg").write(WorkloadReport.overlay(runs, title: "reaper interval: \(name)", yLabel: "ms") { $0.reaperIntervalSeconds * 1000 })
            try plotsOut.file("live.svg").write(WorkloadReport.overlay(runs, title: "live connections: \(name)", yLabel: "connections") { Double($0.live) })
        }
    }
}
