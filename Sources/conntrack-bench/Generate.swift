import ArgumentParser
import ConnTrack
import FlowGen
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a scenario's or a workload's packets as a libpcap file (ns timestamps, Ethernet) for other tools to replay; a file holds at most 50000000 packets (--packets 1...50000000).")

    @OptionGroup var scenario: ScenarioArgs
    @Option(help: "Output libpcap file.")
    var pcap: String
    @Option(help: "Streams, as workers would see them (1...64), merged in timestamp order into one file.")
    var streams: Int = 1

    mutating func run() throws {
        let workload = try scenario.loadedWorkload()?.0
        let opts = try scenario.options()
        guard streams >= 1 && streams <= 64 else { throw ValidationError("--streams must be in 1...64, got \(streams)") }
        if let workload {
            guard workload.expectedPackets <= 50_000_000 else {
                throw ValidationError("--workload \(workload.name) would write about \(Int(workload.expectedPackets)) packets; a pcap holds at most 50000000 (shorten it with --time-scale)")
            }
        } else {
            guard opts.packets <= 50_000_000 else { throw ValidationError("--packets must be at most 50000000 for a pcap, got \(opts.packets)") }
        }
        let out = try OutputFile(pcap, option: "--pcap")
        var written = 0
        // A workload's packets are only expected (above); one that runs far
        // past the cap is stopped, and nothing is left of the file.
        let cap = 60_000_000
        try out.write { emit in
            var w = PcapWriter()
            // One timeline across streams: each stream is in timestamp
            // order, so a merge (ties to the lower stream) orders them all.
            var gens = workload == nil ? (0..<streams).map { FlowGenerator(opts, stream: $0, streams: streams) } : []
            var workloads = workload.map { wl in (0..<streams).map { WorkloadGenerator(wl, seed: opts.seed, stream: $0, streams: streams) } } ?? []
            func next(_ k: Int) -> Packet? { workloads.isEmpty ? gens[k].next() : workloads[k].next() }
            var heads = (0..<streams).map { next($0) }
            while true {
                var k = -1
                for i in 0..<streams {
                    if let p = heads[i], k < 0 || p.timestamp < heads[k]!.timestamp { k = i }
                }
                guard k >= 0 else { break }
                w.append(heads[k]!)
                written += 1
                guard written <= cap else { throw ValidationError("the workload sent more than \(cap) packets; a pcap holds at most 50000000 (shorten it with --time-scale)") }
                heads[k] = next(k)
                if w.bytes.count >= 1 << 22 { try emit(w.drain()) }
            }
            try emit(w.drain())
        }
        writeLine(out.isStdout ? 2 : 1, "wrote \(written) packets to \(pcap)")
    }
}

