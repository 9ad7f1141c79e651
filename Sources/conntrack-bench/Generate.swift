import ArgumentParser
import ConnTrack
import FlowGen
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a scenario's packets as a libpcap file (ns timestamps, Ethernet) for other tools to replay.")

    @OptionGroup var scenario: ScenarioArgs
    @Option(help: "Output libpcap file.")
    var pcap: String
    @Option(help: "Streams (as workers would see them), concatenated in order.")
    var streams: Int = 1

    mutating func run() throws {
        let opts = try scenario.options()
        guard streams >= 1 && streams <= 64 else { throw ValidationError("--streams must be in 1...64, got \(streams)") }
        guard opts.packets <= 50_000_000 else { throw ValidationError("--packets must be at most 50000000 for a pcap, got \(opts.packets)") }
        let out = try OutputFile(pcap, option: "--pcap")
        var w = PcapWriter()
        var all: [Packet] = []
        for s in 0..<streams {
            var g = FlowGenerator(opts, stream: s, streams: streams)
            while let p = g.next() { all.append(p) }
        }
        // One timeline across streams.
        all.sort { $0.timestamp < $1.timestamp }
        for p in all { w.append(p) }
        try out.write(w.bytes)
        writeLine(out.isStdout ? 2 : 1, "wrote \(all.count) packets to \(pcap)")
    }
}
