import Foundation
import Testing
@testable import ConnTrack
@testable import Harness
import TestSupport

/// The text forms of `--verdicts` and `--events`, and the merge of lanes.
@Suite(.oneThread) struct TraceOutputTests {
    static let client = TupleID(srcAddr: IPAddress(v4: 0x0A00_0001), srcPort: 33333, dstAddr: IPAddress(v4: 0x0A00_0002),
                                dstPort: 80, transProto: .tcp, netProto: .ipv4)

    static func record(_ tcb: TCB, lastUsed: Int64, left: Int64 = 0) -> ConnectionRecord {
        ConnectionRecord(original: client, reply: client.reversed, hook: .output, nat: false, tcb: tcb, udp: UDPState(),
                         lastUsed: lastUsed, timeoutLeft: left)
    }

    @Test func verdictTextIsOVSFormat() {
        #expect(Verdict([.new, .trk]).text == "new|trk")
        #expect(Verdict([.trk, .rpl, .est]).text == "est|rpl|trk")
        #expect(Verdict([.dnat, .snat, .inv, .rel]).text == "rel|inv|snat|dnat")
        #expect(Verdict([]).text == "0")
        for raw in 0...255 {
            let v = Verdict(rawValue: UInt8(raw))
            #expect(Verdict(text: v.text) == v)
        }
        #expect(Verdict(text: "new|bogus") == nil)
    }

    /// OVS's rules (`conn_update_state`, `write_ct_md`): inv replaces the
    /// state; est once both directions were seen or for a reply; rpl for a
    /// reply; a destination-NATed connection is dnat one way, snat back.
    @Test(arguments: [
        (false, false, false, false, "new|trk"),
        (false, true, false, false, "est|trk"),
        (true, true, false, false, "est|rpl|trk"),
        (true, false, false, false, "est|rpl|trk"),
        (true, true, true, false, "inv|trk"),
        (false, false, true, true, "inv|trk"),
        (false, false, false, true, "new|trk|dnat"),
        (true, true, false, true, "est|rpl|trk|snat"),
    ])
    func verdictRules(_ reply: Bool, _ replied: Bool, _ invalid: Bool, _ dnat: Bool, _ text: String) {
        #expect(Verdict.tracked(reply: reply, replied: replied, invalid: invalid, dnat: dnat).text == text)
    }

    @Test func createdAndNotCommitted() {
        #expect(Verdict.created(dnat: false).text == "new|trk")
        #expect(Verdict.created(dnat: true).text == "new|trk|dnat")
        #expect(Verdict.notCommitted.text == "new|trk")
    }

    @Test func timestampIsConntrackForm() {
        #expect(EventLine.timestamp(0) == "[00000000.000000]\t")
        #expect(EventLine.timestamp(1_500_000_000) == "[00000001.500000]\t")
        #expect(EventLine.timestamp(1_700_000_000_123_456_789) == "[1700000000.123456]\t")
        #expect(EventLine.timestamp(-5) == "[00000000.000000]\t")
    }

    /// Lines as conntrack -E -o timestamp prints them (the columns of
    /// results/loopback-conntrack/conntrack-events.txt).
    @Test func eventLines() {
        var tcb = TCB()
        _ = tcb.initialise(TCPSegment(flags: .syn, seq: 1000))
        let new = ConnEvent(time: 2 * Duration_ns.second, index: 0, seq: 0, lane: 0, kind: .new, reason: .none,
                            record: Self.record(tcb, lastUsed: 2 * Duration_ns.second, left: 120 * Duration_ns.second + 5))
        #expect(EventLine.text(new, epoch: 1_700_000_000 * Duration_ns.second)
            == "[1700000002.000000]\t    [NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=33333 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=33333\n")
        _ = tcb.updateInbound(TCPSegment(flags: [.syn, .ack], seq: 5000, ack: 1001))
        var upd = new
        upd.kind = .update
        upd.record = Self.record(tcb, lastUsed: 2 * Duration_ns.second, left: 432_000 * Duration_ns.second)
        #expect(EventLine.text(upd, epoch: 0)
            == "[00000002.000000]\t [UPDATE] tcp      6 432000 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33333 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=33333 [ASSURED]\n")
        var gone = upd
        gone.kind = .destroy
        gone.time = 10 * Duration_ns.day
        gone.record.timeoutLeft = -Duration_ns.day
        #expect(EventLine.text(gone, epoch: 0).hasPrefix("[00864000.000000]\t[DESTROY] tcp      6 0 ESTABLISHED "))
        var u = UDPState()
        u.initialised = true
        let udp = TupleID(srcAddr: IPAddress(v4: 0x0A00_0001), srcPort: 5353, dstAddr: IPAddress(v4: 0x0A00_0002),
                          dstPort: 53, transProto: .udp, netProto: .ipv4)
        let ur = ConnectionRecord(original: udp, reply: udp.reversed, hook: .output, nat: false, tcb: TCB(), udp: u,
                                  lastUsed: 0, timeoutLeft: 30 * Duration_ns.second)
        #expect(EventLine.text(ConnEvent(time: 0, index: 0, seq: 0, lane: 0, kind: .new, reason: .none, record: ur),
                               epoch: 0)
            == "[00000000.000000]\t    [NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353\n")
    }

    /// A design's own state (here Linux's SYN_RECV) is what is printed.
    @Test func ownStateIsPrinted() {
        var r = Self.record(TCB(), lastUsed: 0, left: 60 * Duration_ns.second)
        r.ownState = ConnTraceState(state: .synRecv, unreplied: false, assured: false)
        let e = ConnEvent(time: 0, index: 0, seq: 0, lane: 0, kind: .update, reason: .none, record: r)
        #expect(EventLine.text(e, epoch: 0).hasPrefix("[00000000.000000]\t [UPDATE] tcp      6 60 SYN_RECV src=10.0.0.1 dst=10.0.0.2 sport=33333 dport=80 src="))
    }

    func text(_ r: TraceRecorder, events: Bool) throws -> String {
        var bytes: [UInt8] = []
        if events {
            try r.writeEvents(epoch: 0) { bytes += $0 }
        } else {
            try r.writeVerdicts { bytes += $0 }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Two workers' lanes (spilling: buffers of 3) merge by (timestamp,
    /// worker); events by (time, lane, position, sequence), the reaper's
    /// lane first at equal times.
    @Test func lanesMergeInOrder() throws {
        let r = TraceRecorder(verdicts: true, events: true, spillDirectory: FileManager.default.temporaryDirectory.path,
                              verdictCapacity: 3, eventCapacity: 3)
        r.prepare(workers: 2)
        let w0 = r.lane(0)!, w1 = r.lane(1)!, reaper = r.reaperLane!
        // Worker 0: packets at 1, 3, 3, 7 s; worker 1: at 2, 3, 8 s.
        let rec = Self.record(TCB(), lastUsed: 0)
        for (k, t) in [1, 3, 3, 7].enumerated() {
            w0.pointee.event(.new, rec, time: Int64(t), reason: .none)
            w0.pointee.verdict(Verdict(rawValue: UInt8(k + 1)), timestamp: Int64(t))
        }
        for (k, t) in [2, 3, 8].enumerated() {
            w1.pointee.event(.update, rec, time: Int64(t), reason: .none)
            w1.pointee.event(.update, rec, time: Int64(t), reason: .none)
            w1.pointee.verdict(Verdict(rawValue: UInt8(16 + k)), timestamp: Int64(t))
        }
        reaper.pointee.event(.destroy, rec, time: 3, reason: .reaper)
        #expect(r.check(processed: [4, 3], design: "x") == nil)
        #expect(r.check(processed: [5, 3], design: "x")?.contains("4 verdicts for the 5 packets worker 0") == true)
        let lines = try text(r, events: false).split(separator: "\n").map(String.init)
        // 1 s (w0), 2 s (w1), 3 s: w0's two then w1's, 7 s (w0), 8 s (w1).
        let order: [UInt8] = [1, 16, 2, 3, 17, 4, 18]
        #expect(lines == order.enumerated().map { "\($0.offset + 1): \(Verdict(rawValue: $0.element).text)" })
        let kinds = try text(r, events: true).split(separator: "\n").map { $0.split(separator: "\t")[1].prefix(9) }
        #expect(kinds == ["    [NEW]", " [UPDATE]", " [UPDATE]", "[DESTROY]", "    [NEW]", "    [NEW]",
                          " [UPDATE]", " [UPDATE]", "    [NEW]", " [UPDATE]", " [UPDATE]"])
        #expect(r.failure == nil)
    }

    @Test func designErrorStopsTheOutput() throws {
        let r = TraceRecorder(verdicts: true, events: false, spillDirectory: FileManager.default.temporaryDirectory.path)
        r.prepare(workers: 1)
        r.designError = "design x reported 0 verdicts"
        #expect(throws: TraceOutputError.self) { try r.writeVerdicts { _ in Issue.record("wrote despite the error") } }
    }

    /// A run through the harness: one verdict per packet, in input order
    /// for one worker (the scenario's own order).
    @Test func deterministicRunRecordsEveryPacket() throws {
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: .fixed)
        c.scenario.packets = 3000
        c.scenario.flows = 100
        c.deterministic = true
        c.threads = 1
        let r = TraceRecorder(verdicts: true, events: true, spillDirectory: FileManager.default.temporaryDirectory.path,
                              verdictCapacity: 256, eventCapacity: 64)
        c.trace = r
        let report = try Runner.run(c)
        #expect(r.failure == nil)
        let v = try text(r, events: false).split(separator: "\n")
        #expect(UInt64(v.count) == report.packets)
        #expect(v.first == "1: new|trk" || v.first == "1: new|trk|dnat")
        let e = try text(r, events: true).split(separator: "\n")
        #expect(UInt64(e.filter { $0.contains("    [NEW]") }.count) == report.created)
    }
}
