import ConnTrack
import Foundation
import Testing
@testable import FlowGen
@testable import Harness

/// The distinct-flow estimate a capture's check makes (`FlowCount`), and
/// the table a replay sizes by it. The hash is fixed, so every estimate
/// here is the same in every run.
@Suite struct FlowCountTests {
    /// Flow k: distinct addresses and ports, IPv6 on every third.
    static func tuple(_ k: Int) -> TupleID {
        let v6 = k % 3 == 0
        return TupleID(srcAddr: IPAddress(hi: v6 ? 0x2001_0db8 << 32 : 0, lo: 0x0a00_0000 | UInt64(k >> 8)),
                       srcPort: UInt16(truncatingIfNeeded: 1024 + (k & 0xff)),
                       dstAddr: IPAddress(hi: v6 ? 0x2001_0db8 << 32 : 0, lo: 0xc0a8_0001),
                       dstPort: 443, transProto: k % 2 == 0 ? .tcp : .udp, netProto: v6 ? .ipv6 : .ipv4)
    }

    /// Within 1 % where linear counting answers (up to 2.5 × 65,536
    /// registers), within 3 % (about 7 standard errors) above.
    @Test(arguments: [0, 1, 10, 1_000, 20_000, 100_000, 400_000])
    func theEstimateIsNearTheCount(_ n: Int) {
        var c = FlowCount()
        for k in 0..<n { c.add(Self.tuple(k)) }
        let e = c.estimate
        let tolerance = n <= 160_000 ? max(1, n / 100) : n * 3 / 100
        #expect(abs(e - n) <= tolerance, "\(n) flows estimated as \(e)")
    }

    /// A connection's two directions, and its repeated packets, are one flow.
    @Test func bothDirectionsAndRepeatsCountOnce() {
        var once = FlowCount(), both = FlowCount()
        for k in 0..<5_000 {
            once.add(Self.tuple(k))
            for _ in 0..<3 {
                both.add(Self.tuple(k))
                both.add(Self.tuple(k).reversed)
            }
        }
        #expect(both.estimate == once.estimate)
        #expect(abs(once.estimate - 5_000) <= 50)
    }

    /// A capture's check counts its flows, and a replay sizes a table that
    /// sizes itself for them, not for its packets.
    @Test func aReplaySizesTheTableForTheCapturesFlows() throws {
        var o = ScenarioOptions()
        o.flows = 300; o.packets = 6_000; o.scenario = .mix; o.natFraction = 0; o.ipv6Ratio = 0.3
        var g = FlowGenerator(o)
        var w = PcapWriter()
        var flows = Set<Set<TupleID>>()
        while let p = g.next() {
            w.append(p)
            flows.insert([p.id, p.id.reversed])
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowcount-\(getpid())-\(UUID().uuidString).pcap").path
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let capture = try Capture(path: path)
        #expect(capture.stats.used == 6_000)
        let estimate = try #require(capture.stats.flows)
        #expect(abs(estimate - flows.count) <= max(1, flows.count / 100),
                "\(flows.count) flows estimated as \(estimate)")
        var read = PcapStats()
        _ = try PcapReader.read(path: path, stats: &read)
        #expect(read.flows == capture.stats.flows)

        var cfg = RunConfig()
        cfg.design = "fast"
        cfg.source = .capture(file: path, stats: capture.stats)
        #expect(cfg.tableForRun.expectedConnections == estimate)
        // A capture whose flows were not counted: its packets, as before.
        var uncounted = capture.stats
        uncounted.flows = nil
        cfg.source = .capture(file: path, stats: uncounted)
        #expect(cfg.tableForRun.expectedConnections == 6_000)
        // `--capacity` wins.
        cfg.table.expectedConnections = 77
        #expect(cfg.tableForRun.expectedConnections == 77)
    }
}
