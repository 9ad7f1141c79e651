import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the same scenario on seed2020, fixed and global-lock and print their figures side by side.")

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
        var base = RunConfig()
        base.table = try table.tableConfig()
        if let p = try reaper.choice() { base.policy = p } else { base.reaperEnabled = false }
        base.reaperStartDelay = Int64(reaper.reaperStartDelay * 1e9)
        base.scenario = try scenario.options()
        try driver.apply(&base)
        if base.table.hashSeed == nil { base.table.hashSeed = 0x5eed_2020 }
        let designs: [(String, TableDesign, Variant)] = [("seed2020", .buckets, .seed2020), ("fixed", .buckets, .fixed),
                                                        ("global-lock", .globalLock, .fixed)]
        var reports: [String: RunReport] = [:]
        for (name, d, v) in designs {
            var runs: [RunReport] = []
            for _ in 0..<repeats {
                var c = base
                c.design = d
                c.table.variant = v
                runs.append(try Runner.run(c))
            }
            runs.sort { $0.packetsPerSecond < $1.packetsPerSecond }
            reports[name] = runs[runs.count / 2]
            FileHandle.standardError.write("  \(name): done\n".data(using: .utf8)!)
        }
        let names = designs.map(\.0)
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
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try jsonOut.write(try enc.encode(reports))
        }
    }
}
