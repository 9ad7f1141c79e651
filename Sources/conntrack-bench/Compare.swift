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
    @Option(help: "Run the comparison once per flow count (comma-separated, e.g. 1000,10000,100000,1000000) and print throughput against flows; --flows is then ignored.")
    var flowsList: String?
    @Option(help: "With --flows-list: also write the plot of throughput against flows (log x-axis) as SVG to this file.")
    var plot: String?

    mutating func run() throws {
        guard repeats >= 1 && repeats <= 100 else { throw ValidationError("--repeats must be in 1...100, got \(repeats)") }
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        guard table.variant == nil else {
            throw ValidationError("--variant does not apply to compare (it runs every variant of every design)")
        }
        var base = try makeRunConfig(table, reaper, scenario, driver)
        drawDefaultSeeds(&base)
        if let flowsList {
            try againstFlows(base, flowsList)
            return
        }
        guard plot == nil else { throw ValidationError("--plot needs --flows-list") }
        let configs = entries(base)
        guard configs.contains(where: { $0.0 == "seed2020" }) else {
            throw ValidationError("compare needs seed2020 as its baseline, and it cannot run with these options")
        }
        try compare(base, configs, jsonOut: jsonOut)
    }

    /// Every design and variant from the registry, each with the options it
    /// supports: a design that does not hash with a seed gets none, and one
    /// that cannot honour an option the user gave is skipped, saying so.
    /// With `--sized`, the bucket designs again with buckets sized to the
    /// flows.
    func entries(_ base: RunConfig, sizedLabel: ((String, Int) -> String)? = nil) -> [(String, RunConfig)] {
        var configs: [(String, RunConfig)] = []
        for entry in TableDesigns.entries {
            var c = base
            c.design = entry.traits.name
            c.table.variant = entry.variant
            c.table.hashSeed = entry.traits.hashSeed(base.table.hashSeed ?? drawnHashSeed)
            // Without --policy, each design runs its own default schedule.
            if reaper.policy == nil, base.reaperEnabled, let p = try? reaper.choice(for: entry.traits) { c.policy = p }
            do { try c.validate() } catch {
                writeLine(2, "  \(entry.label): skipped: \(error.description)")
                continue
            }
            configs.append((entry.label, c))
            if sized && entry.traits.sizedByBuckets {
                var s = c
                var n = 1
                while n < base.scenario.flows { n <<= 1 }
                s.table.buckets = n
                do { try s.validate() } catch {
                    writeLine(2, "  \(entry.label)@\(n): skipped: \(error.description)")
                    continue
                }
                // Side by side, a sized run equal to the default is left out;
                // against flows every point is drawn.
                if n != c.table.buckets || sizedLabel != nil { configs.append((sizedLabel?(entry.label, n) ?? "\(entry.label)@\(n)", s)) }
            }
        }
        return configs
    }

    /// The side-by-side comparison of `configs`, interleaved.
    func compare(_ base: RunConfig, _ configs: [(String, RunConfig)], jsonOut: OutputFile?) throws {
        // Interleaved, A B C A B C …, so drift hits every design alike.
        var runs: [String: [RunReport]] = [:]
        for i in 0..<repeats {
            for (name, c) in configs {
                runs[name, default: []].append(try Runner.run(c))
                writeLine(2, "  repeat \(i + 1)/\(repeats): \(name) done")
            }
        }
        let names = configs.map(\.0)
        let summary = names.map { RepeatedRun(runs[$0]!) }
        let byName = Dictionary(uniqueKeysWithValues: zip(names, summary))
        let seedRuns = runs["seed2020"]!
        let w = 22
        func line(_ label: String, _ f: (RepeatedRun) -> String) -> String {
            label.padding(toLength: 30, withPad: " ", startingAt: 0) + summary.map { f($0).padding(toLength: w, withPad: " ", startingAt: 0) }.joined()
        }
        let first = summary[0].runs[0]
        print("compare: scenario \(base.scenario.scenario.rawValue), \(base.scenario.packets) packets, \(base.threads) worker(s), \(base.table.buckets) buckets, clock \(base.clock.rawValue), \(repeats) interleaved repeat(s); hash seed \(base.table.hashSeed.map(String.init) ?? "-") (--hash-seed), flow seed \(base.scenario.seed)")
        print("  determinism: \(first.determinism.mode)" + (first.determinism.windowMillis.map { ", windows of \(ReportFormatter.f($0, 1)) ms" } ?? ""))
        print("  rates: found, created and removed connections over table time: RFC 9693's established-flow, set-up and teardown rates as this stream drives them")
        print("".padding(toLength: 30, withPad: " ", startingAt: 0) + names.map { $0.padding(toLength: w, withPad: " ", startingAt: 0) }.joined())
        print(line("packets/s (M), mean ± σ", { $0.packetsPerSecond.n > 1 ? "\(ReportFormatter.f($0.packetsPerSecond.mean / 1e6)) ± \(ReportFormatter.f($0.packetsPerSecond.stddev / 1e6))" : ReportFormatter.f($0.packetsPerSecond.mean / 1e6) }))
        if repeats > 1 {
            print(line("packets/s (M), min … max", { "\(ReportFormatter.f($0.packetsPerSecond.min / 1e6)) … \(ReportFormatter.f($0.packetsPerSecond.max / 1e6))" }))
        }
        // Ratio per interleaved pair, then its spread.
        let ratios = Dictionary(uniqueKeysWithValues: names.map { n in
            (n, Spread(zip(runs[n]!, seedRuns).map { $0.packetsPerSecond / max(1, $1.packetsPerSecond) }))
        })
        print("throughput vs seed2020".padding(toLength: 30, withPad: " ", startingAt: 0) + names.map { n in
            let s = ratios[n]!
            return (s.n > 1 ? "\(ReportFormatter.f(s.mean))x ± \(ReportFormatter.f(s.stddev))" : "\(ReportFormatter.f(s.mean))x")
                .padding(toLength: w, withPad: " ", startingAt: 0)
        }.joined())
        let med = { (r: RepeatedRun) in r.medianRun }
        // RFC 9693's three rates, as this stream achieved them: each is a
        // count over the table time, the median over the repeats.
        func rate(_ count: @escaping (RunReport) -> UInt64) -> (RepeatedRun) -> String {
            { r in
                let v = r.runs.map { Double(count($0)) / max(1e-9, $0.tableSeconds) }.sorted()
                return ReportFormatter.f(v[v.count / 2] / 1e6, 3)
            }
        }
        print(line("established lookups/s (M)", rate { $0.found }))
        print(line("set-ups/s (M)", rate { $0.created }))
        print(line("teardowns/s (M)", rate { $0.removedInline + $0.removedByReaper + $0.removedOther }))
        print(line("latency p50 / p99 (ns)", { "\(Int(med($0).latencyNanos.p50)) / \(Int($0.latencyP99Nanos.median))" }))
        print(line("found %", { String(format: "%.2f", Double(med($0).found) * 100 / Double(max(1, med($0).lookups))) }))
        print(line("created", { String(med($0).created) }))
        print(line("live at end", { String(med($0).live) }))
        print(line("chain p99 / max", { "\(Int(med($0).chainWalked.p99)) / \(Int(med($0).chainWalked.max))" }))
        print(line("contended locks %", { rr in
            let r = med(rr)
            let a = r.bucketLocks.acquisitions + r.tableLock.acquisitions, c = r.bucketLocks.contended + r.tableLock.contended
            return String(format: "%.3f", Double(c) * 100 / Double(max(1, a)))
        }))
        print(line("reaper schedule", { med($0).policy }))
        print(line("reaper removed", { String(med($0).removedByReaper) }))
        print(line("reaper passes run / due", { r in med(r).reaperHealth.map { "\($0.passesRun) / \($0.passesDue)" } ?? "off" }))
        print(line("expired still linked", { String(med($0).expiredStillLinkedAtEnd) }))
        print(line("CPUs utilised", { ReportFormatter.f($0.cpusUtilized.mean) }))
        print(line("worker CPU while runnable", { r in
            let v = r.runs.flatMap { $0.cpu.workers.map(\.cpuShareWhileBusy) }
            return v.isEmpty ? "-" : "\(Int(((v.min() ?? 0) * 100).rounded())) % (lowest)"
        }))
        if let ceiling = byName["null"]?.packetsPerSecond.mean, ceiling > 0 {
            print(line("share of time in the table", { r in
                // 1 - t(null)/t(design): the part of the design's time per
                // packet that the harness alone does not spend.
                r.packetsPerSecond.mean > 0 ? String(format: "%.0f%%", max(0, 1 - r.packetsPerSecond.mean / ceiling) * 100) : "-"
            }))
        }
        var flagged = false
        for (n, r) in zip(names, summary) {
            for (i, run) in r.runs.enumerated() {
                for warning in run.warnings {
                    flagged = true
                    print("  WARNING: \(n), repeat \(i + 1): \(warning)")
                }
            }
        }
        if flagged { print("  (flagged runs' figures are not comparable: rerun on a quieter machine, or with fewer workers)") }
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try jsonOut.write(Array(try enc.encode(CompareReport(designs: byName, ratiosToSeed2020: ratios, order: names))) + [0x0a])
        }
    }
}

/// `compare --json`: every design's repeats and the ratios to seed2020.
struct CompareReport: Codable {
    var schemaVersion = RunReport.schemaVersion
    var kind = "compare"
    var designs: [String: RepeatedRun]
    /// Per interleaved pair: the design's packets/s ÷ seed2020's.
    var ratiosToSeed2020: [String: Spread]
    var order: [String]
}

extension Compare {
    /// Throughput against flows: the comparison once per flow count,
    /// interleaved within each, printed as a table (median and min … max of
    /// the repeats) and, with `--plot`, drawn with a log x-axis.
    func againstFlows(_ base: RunConfig, _ list: String) throws {
        let flows = try list.split(separator: ",").map { s -> Int in
            guard let f = Int(s.trimmingCharacters(in: .whitespaces)), f >= 1, f <= 50_000_000 else {
                throw ValidationError("--flows-list takes flow counts in 1...50000000 separated by commas, got '\(s)'")
            }
            return f
        }
        guard !flows.isEmpty, flows.count <= 12 else { throw ValidationError("--flows-list takes 1...12 flow counts, got \(flows.count)") }
        let plotOut = try plot.map { try OutputFile($0, option: "--plot") }
        var order: [String] = []
        var cells: [String: [Int: Spread]] = [:]
        for f in flows {
            var b = base
            b.scenario.flows = f
            let configs = entries(b, sizedLabel: { label, _ in "\(label) (sized)" })
            for (label, _) in configs where !order.contains(label) { order.append(label) }
            var pps: [String: [Double]] = [:]
            for i in 0..<repeats {
                for (label, c) in configs {
                    pps[label, default: []].append(try Runner.run(c).packetsPerSecond)
                    writeLine(2, "  \(f) flows, repeat \(i + 1)/\(repeats): \(label) done")
                }
            }
            for (label, v) in pps { cells[label, default: [:]][f] = Spread(v) }
        }
        print("compare against flows: scenario \(base.scenario.scenario.rawValue), \(base.scenario.packets) packets per point, \(base.threads) worker(s), \(base.table.buckets) buckets (sized: the next power of two >= flows), \(repeats) interleaved repeat(s); M packets/s, median (min … max)")
        print("flows".padding(toLength: 24, withPad: " ", startingAt: 0) + flows.map { String($0).padding(toLength: 22, withPad: " ", startingAt: 0) }.joined())
        for label in order {
            print(label.padding(toLength: 24, withPad: " ", startingAt: 0) + flows.map { f in
                guard let s = cells[label]?[f] else { return "-".padding(toLength: 22, withPad: " ", startingAt: 0) }
                return "\(ReportFormatter.f(s.median / 1e6)) (\(ReportFormatter.f(s.min / 1e6)) … \(ReportFormatter.f(s.max / 1e6)))"
                    .padding(toLength: 22, withPad: " ", startingAt: 0)
            }.joined())
        }
        if let plotOut {
            var p = SVGPlot(title: "Throughput vs flows (\(base.scenario.scenario.rawValue), \(base.threads) worker(s), \(repeats) repeat(s))",
                            xLabel: "flows", yLabel: "packets/s", logX: true)
            for label in order {
                p.series.append(.init(label: label, points: flows.compactMap { f in
                    cells[label]?[f].map { SVGPlot.Point(Double(f), $0.median, low: $0.min, high: $0.max) }
                }))
            }
            try plotOut.write(p.render())
        }
    }
}

