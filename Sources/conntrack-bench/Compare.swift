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
    @Option(help: "Repetitions per design; the median is reported.")
    var repeats: Int = 1
    @Option(help: "Write all reports as JSON to this file.")
    var json: String?

    mutating func run() throws {
        guard repeats >= 1 && repeats <= 100 else { throw ValidationError("--repeats must be in 1...100, got \(repeats)") }
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        guard table.variant == nil else {
            throw ValidationError("--variant does not apply to compare (it runs every variant of every design)")
        }
        var base = try makeRunConfig(table, reaper, scenario, driver)
        // Every design and variant from the registry, each with the options
        // it supports: a design that does not hash with a seed gets none, and
        // one that cannot honour an option the user gave is skipped, saying so.
        var configs: [(String, RunConfig)] = []
        for entry in TableDesigns.entries {
            var c = base
            c.design = entry.traits.name
            c.table.variant = entry.variant
            c.table.hashSeed = entry.traits.hasHashSeed ? (base.table.hashSeed ?? 0x5eed_2020) : nil
            do { try c.validate() } catch {
                FileHandle.standardError.write("  \(entry.label): skipped: \(error.description)\n".data(using: .utf8)!)
                continue
            }
            configs.append((entry.label, c))
        }
        guard configs.contains(where: { $0.0 == "seed2020" }) else {
            throw ValidationError("compare needs seed2020 as its baseline, and it cannot run with these options")
        }
        base.table.hashSeed = base.table.hashSeed ?? 0x5eed_2020
        var reports: [String: RunReport] = [:]
        for (name, c) in configs {
            var runs: [RunReport] = []
            for _ in 0..<repeats { runs.append(try Runner.run(c)) }
            runs.sort { $0.packetsPerSecond < $1.packetsPerSecond }
            reports[name] = runs[runs.count / 2]
            FileHandle.standardError.write("  \(name): done\n".data(using: .utf8)!)
        }
        let names = configs.map(\.0)
        func line(_ label: String, _ f: (RunReport) -> String) -> String {
            label.padding(toLength: 28, withPad: " ", startingAt: 0) + names.map { f(reports[$0]!).padding(toLength: 16, withPad: " ", startingAt: 0) }.joined()
        }
        print("compare: scenario \(base.scenario.scenario.rawValue), \(base.scenario.packets) packets, \(base.threads) worker(s), \(base.table.buckets) buckets, clock \(base.clock.rawValue), median of \(repeats)")
        print(line("", { _ in "" }).prefix(28) + names.map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined())
        print(line("packets/s", { String(Int($0.packetsPerSecond)) }))
        print(line("latency p50 / p99 (ns)", { "\(Int($0.latencyNanos.p50)) / \(Int($0.latencyNanos.p99))" }))
        print(line("found %", { String(format: "%.2f", Double($0.found) * 100 / Double(max(1, $0.lookups))) }))
        print(line("created", { String($0.created) }))
        print(line("live at end", { String($0.live) }))
        print(line("chain p99 / max", { "\(Int($0.chainWalked.p99)) / \(Int($0.chainWalked.max))" }))
        print(line("contended locks %", { r in
            let a = r.bucketLocks.acquisitions + r.tableLock.acquisitions, c = r.bucketLocks.contended + r.tableLock.contended
            return String(format: "%.3f", Double(c) * 100 / Double(max(1, a)))
        }))
        print(line("reaper removed", { String($0.removedByReaper) }))
        print(line("expired still linked", { String($0.expiredStillLinkedAtEnd) }))
        let s = reports["seed2020"]!.packetsPerSecond
        print(line("throughput vs seed2020", { String(format: "%.2fx", $0.packetsPerSecond / max(1, s)) }))
        if let ceiling = reports["null"]?.packetsPerSecond, ceiling > 0 {
            print(line("share of time in the table", { r in
                // 1 - t(null)/t(design): the part of the design's time per
                // packet that the harness alone does not spend.
                r.packetsPerSecond > 0 ? String(format: "%.0f%%", max(0, 1 - r.packetsPerSecond / ceiling) * 100) : "-"
            }))
        }
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try jsonOut.write(Array(try enc.encode(reports)) + [0x0a])
        }
    }
}
