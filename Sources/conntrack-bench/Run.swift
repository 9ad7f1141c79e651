import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a scenario (or a capture) through the table with the reaper alongside, and report.")

    @OptionGroup var table: TableOptions
    @OptionGroup var reaper: ReaperOptions
    @OptionGroup var scenario: ScenarioArgs
    @OptionGroup var driver: DriverOptions
    @Option(help: "Replay this libpcap file instead of a scenario (Ethernet or raw IP; IPv4/IPv6; TCP/UDP).")
    var pcap: String?
    @Option(help: "Write the report as JSON (versioned schema) to this file; '-' writes it to standard output and the text report to standard error.")
    var json: String?
    @Option(help: "Write a time series (one row per sample) as CSV to this file ('-': standard output).")
    var csv: String?
    @Option(help: "Seconds between time-series samples and progress updates.")
    var sampleInterval: Double = 0.5
    @Flag(help: "No live progress line (it is also off when stdout is not a terminal).")
    var noProgress = false
    @Option(help: "Heap allocator: system (glibc) or jemalloc (re-executes with LD_PRELOAD; needs libjemalloc2).")
    var allocator: AllocatorChoice = .system

    func makeConfig() throws -> RunConfig {
        guard sampleInterval > 0 && sampleInterval <= 3600 else {
            throw ValidationError("--sample-interval must be in (0, 3600] seconds, got \(sampleInterval)")
        }
        return try makeRunConfig(table, reaper, scenario, driver)
    }

    mutating func run() throws {
        var cfg = try makeConfig()
        AllocatorSwitch.ensure(allocator)
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        let csvOut = try csv.map { try OutputFile($0, option: "--csv") }
        // Machine-readable output on stdout moves the human text to stderr.
        let textFD: Int32 = jsonOut?.isStdout == true || csvOut?.isStdout == true ? 2 : 1
        let showProgress = !noProgress && isatty(textFD) == 1
        if csvOut != nil || showProgress {
            cfg.sampleSeconds = sampleInterval
            cfg.progress = { s in
                if showProgress {
                    let line = "\r  \(Int(s.fractionDone * 100))%  \(Int(s.pps)) pkt/s  live \(s.live)  virtual \(Int(s.virtualSeconds)) s  reaper every \(String(format: "%.3f", s.reaperInterval)) s   "
                    try? OutputFile.writeAll(textFD, Array(line.utf8), what: "the terminal")
                }
            }
        }
        let report: RunReport
        if let pcap {
            let (packets, stats) = readCapture(pcap)
            cfg.source = .capture(file: pcap, stats: stats)
            // Virtual time starts at the capture's first timestamp.
            let t0 = packets.first?.timestamp ?? 0
            let shifted = packets.map { p -> Packet in var q = p; q.timestamp -= t0; return q }
            let n = cfg.deterministic ? 1 : cfg.threads
            // Flows stay on one worker (by hash of the unordered address pair).
            var lists = [[Packet]](repeating: [], count: n)
            for p in shifted { lists[PcapReader.shard(p, n)].append(p) }
            cfg.scenario.packets = max(1, shifted.count)
            report = try Runner.run(cfg, packets: lists)
        } else {
            report = try Runner.run(cfg)
        }
        if showProgress { try? OutputFile.writeAll(textFD, Array(("\r" + String(repeating: " ", count: 100) + "\r").utf8), what: "the terminal") }
        try? OutputFile.writeAll(textFD, Array(ReportFormatter.text(report).utf8), what: "the report")
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try jsonOut.write(Array(try enc.encode(report)) + [0x0a])
        }
        if let csvOut { try csvOut.write(timeSeriesCSV(report.timeSeries)) }
        let outcome = report.outcome
        if outcome != .ok { throw ArgumentParser.ExitCode(outcome.exitCode) }
    }
}

/// The run's time series as CSV, one row per sample.
func timeSeriesCSV(_ samples: [Sample]) -> String {
    var out = "wall_s,virtual_s,packets,pps,live,reaper_interval_s,expired_ratio,contended_per_million\n"
    for s in samples {
        out += "\(s.wallSeconds),\(s.virtualSeconds),\(s.packets),\(s.pps),\(s.live),\(s.reaperInterval),\(s.expiredRatio),\(s.contendedPerMillion)\n"
    }
    return out
}

/// Reads a capture or exits with its one-line error (code 2).
func readCapture(_ path: String) -> ([Packet], PcapStats) {
    var stats = PcapStats()
    switch Result(catching: { () throws(PcapError) -> [Packet] in try PcapReader.read(path: path, stats: &stats) }) {
    case .success(let p): return (p, stats)
    case .failure(let e): fail(e.description)
    }
}
