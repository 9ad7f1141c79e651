import ConnTrack
import Foundation
import Testing
import TestSupport

// Verdicts and events as every registered design reports them
// (docs/verdicts-and-events.md): the same packets through each design, the
// flags and events read back from the thread's lane.

/// A context whose lane records verdicts and events (buffers of 4, so the
/// spill files are used too).
final class TracedContext {
    let lane: UnsafeMutablePointer<TraceLane>
    var ctx: WorkerContext
    init() {
        lane = .allocate(capacity: 1)
        lane.initialize(to: TraceLane(lane: 0, verdicts: true, events: true,
                                      spill: TraceSpill(directory: FileManager.default.temporaryDirectory.path),
                                      verdictCapacity: 4, eventCapacity: 4))
        ctx = WorkerContext(name: "traced", checkLockOrder: true)
        ctx.trace = lane
    }
    deinit { lane.pointee.deallocate(); lane.deinitialize(count: 1); lane.deallocate() }

    var verdicts: [String] {
        var r = lane.pointee.verdictReader()
        defer { r.deallocate() }
        var out: [String] = []
        while let v = r.next() { out.append(v.verdict.text) }
        return out
    }

    var events: [ConnEvent] {
        var r = lane.pointee.eventReader()
        defer { r.deallocate() }
        var out: [ConnEvent] = []
        while let e = r.next() { out.append(e) }
        return out
    }
}

func tracedTCP(_ id: TupleID, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, hook: Hook,
         nat: (IPAddress, UInt16)? = nil) -> Packet {
    Packet(id: id, tcp: TCPSegment(flags: flags, seq: seq, ack: ack), hook: hook, nat: nat)
}

func tracedUDPTuple(_ i: Int) -> TupleID {
    TupleID(srcAddr: v4(10, 1, 0, UInt8(i)), srcPort: UInt16(30_000 + i), dstAddr: v4(192, 168, 0, 53), dstPort: 53,
            transProto: .udp, netProto: .ipv4)
}

/// Events as "KIND STATE flags" for comparing.
func eventSummary(_ e: ConnEvent) -> String {
    let s = ConnTraceState(e.record)
    return "\(e.kind) \(s.state?.rawValue ?? "-")\(s.unreplied ? " unreplied" : "")\(s.assured ? " assured" : "")"
}

@Suite(.oneThread) struct TraceConformanceTests {
    /// The packets: a TCP handshake with a stray ACK before the SYN-ACK, a
    /// UDP query sent twice and answered, a NAT-redirected SYN answered by
    /// the redirect target.
    static func packets() -> [Packet] {
        let id = client(1), nid = client(2), u = tracedUDPTuple(1)
        let target = (v4(10, 9, 9, 9), UInt16(8080))
        return [
            tracedTCP(id, .syn, seq: 1000, hook: .output),
            tracedTCP(id, .ack, seq: 1001, ack: 1, hook: .output),
            tracedTCP(id.reversed, [.syn, .ack], seq: 5000, ack: 1001, hook: .prerouting),
            tracedTCP(id, .ack, seq: 1001, ack: 5001, hook: .output),
            Packet(id: u, hook: .output),
            Packet(id: u, hook: .output),
            Packet(id: u.reversed, hook: .prerouting),
            tracedTCP(nid, .syn, seq: 7000, hook: .output, nat: target),
            tracedTCP(nid.redirectedReply(to: target.0, port: target.1), [.syn, .ack], seq: 9000, ack: 7001, hook: .prerouting),
        ]
    }

    static func run(_ e: DesignEntry) -> (TracedContext, any ConnTrackTable) {
        let t = makeTable(e)
        let c = TracedContext()
        for (k, p) in packets().enumerated() {
            var q = p
            q.timestamp = Int64(k + 1) * sec
            _ = t.handlePacket(q, clock: VirtualClock(q.timestamp), &c.ctx)
        }
        return (c, t)
    }

    @Test(arguments: TableDesigns.entries)
    func oneVerdictPerPacket(_ e: DesignEntry) {
        let (c, _) = Self.run(e)
        #expect(c.lane.pointee.index == UInt64(Self.packets().count))
        #expect(c.verdicts.count == Self.packets().count)
        #expect(c.verdicts.allSatisfy { Verdict(text: $0) != nil })
    }

    /// OVS's flags for designs whose tracker sees the creating packet. The
    /// ACK before the SYN-ACK is refused by gVisor's tracker (its ACK
    /// acknowledges nothing the peer sent); OVS's own (`ovs`) takes it:
    /// the ack skew against a peer that sent nothing is -1, inside
    /// `MAXACKWINDOW`, and the segment is inside the window.
    @Test(arguments: stateful.filter { $0.variant != .seed2020 && $0.traits.traces })
    func verdictsFollowOVSRules(_ e: DesignEntry) {
        let (c, _) = Self.run(e)
        let stray = e.traits.name == OVSTable.traits.name ? "est|trk" : "inv|trk"
        #expect(c.verdicts == ["new|trk", stray, "est|rpl|trk", "est|trk",
                               "new|trk", "new|trk", "est|rpl|trk",
                               "new|trk|dnat", "est|rpl|trk|snat"], "\(e)")
    }

    /// gVisor's tracker's states; `ovs`'s tracker keeps the opening state
    /// (SYN_RECV) from the SYN-ACK to the last ACK (`linux` has Linux's
    /// own: below).
    @Test(arguments: stateful.filter { $0.variant != .seed2020 && $0.traits.name != LinuxTable.traits.name && $0.traits.traces })
    func eventsOnCreateStateChangeAndRemoval(_ e: DesignEntry) {
        let (c, t) = Self.run(e)
        if e.traits.name == OVSTable.traits.name {
            #expect(c.events.map(eventSummary) == [
                "new SYN_SENT unreplied", "update SYN_RECV", "update ESTABLISHED assured",
                "new - unreplied", "update - assured",
                "new SYN_SENT unreplied", "update SYN_RECV",
            ])
            #expect(c.events.map(\.index) == [0, 2, 3, 4, 6, 7, 8])
        } else {
            #expect(c.events.map(eventSummary) == [
                "new SYN_SENT unreplied", "update ESTABLISHED assured",
                "new - unreplied", "update - assured",
                "new SYN_SENT unreplied", "update ESTABLISHED assured",
            ], "\(e)")
            // Every event of a packet carries that packet's position.
            #expect(c.events.map(\.index) == [0, 2, 4, 6, 7, 8], "\(e)")
        }
        // The reaper's removals, each reported once.
        fullSweep(t, now: 30 * 86_400 * sec, &c.ctx)
        let destroyed = c.events.filter { $0.kind == .destroy }
        #expect(destroyed.count == 3, "\(e)")
        #expect(destroyed.allSatisfy { $0.reason == .reaper && $0.time == 30 * 86_400 * sec }, "\(e)")
        #expect(Set(destroyed.map(\.record.original)) == [client(1), tracedUDPTuple(1), client(2)], "\(e)")
    }

    /// `linux` reports Linux's states: SYN_RECV on the SYN-ACK, ESTABLISHED
    /// and ASSURED on the handshake's last ACK; a UDP flow replied within
    /// 2 s of its start is replied but not yet assured (a stream).
    @Test func linuxEventsFollowItsOwnStateMachine() {
        let e = TableDesigns.entries.first { $0.traits.name == LinuxTable.traits.name }!
        let (c, t) = Self.run(e)
        #expect(c.events.map(eventSummary) == [
            "new SYN_SENT unreplied", "update SYN_RECV", "update ESTABLISHED assured",
            "new - unreplied", "update -",
            "new SYN_SENT unreplied", "update SYN_RECV",
        ])
        #expect(c.events.map(\.index) == [0, 2, 3, 4, 6, 7, 8])
        fullSweep(t, now: 30 * 86_400 * sec, &c.ctx)
        let destroyed = c.events.filter { $0.kind == .destroy }
        #expect(destroyed.count == 3 && destroyed.allSatisfy { $0.reason == .reaper })
        #expect(Set(destroyed.map(\.record.original)) == [client(1), tracedUDPTuple(1), client(2)])
    }

    /// seed2020 hands the creating packet to no tracker: its [NEW] has no
    /// state yet (NONE), and the next packet initialises the tracker.
    @Test func seed2020NewHasNoState() {
        let e = TableDesigns.entries.first { $0.variant == .seed2020 }!
        let (c, _) = Self.run(e)
        #expect(c.verdicts.first == "new|trk")
        #expect(c.events.first.map(eventSummary) == "new NONE unreplied")
        #expect(c.events.filter { $0.kind == .new }.count == 3)
    }

    /// A design with no table tracks nothing: every packet is `0`.
    @Test func nullTracksNothing() {
        let e = TableDesigns.entries.first { !$0.traits.tracksConnections }!
        let (c, _) = Self.run(e)
        #expect(c.verdicts == Array(repeating: "0", count: Self.packets().count))
        #expect(c.events.isEmpty)
    }

    /// Removal of an expired connection on the packet path and early drop
    /// at the limit are reported with their reasons.
    @Test(arguments: stateful.filter { $0.traits.connectionLimit && $0.traits.traces })
    func earlyDropIsReported(_ e: DesignEntry) {
        var cfg = TableConfig(buckets: 64, hashSeed: e.traits.hashSeed(0xC0FFEE), variant: e.variant, maxConnections: 2)
        cfg.earlyDropBuckets = 1024
        let t = e.design.init(cfg)
        let c = TracedContext()
        for i in 0..<3 {
            _ = t.handlePacket(tracedTCP(client(i), .syn, seq: 1000, hook: .output), clock: VirtualClock(sec), &c.ctx)
        }
        let drops = c.events.filter { $0.kind == .destroy }
        if e.traits.earlyDropsAtLimit {
            #expect(drops.count == 1 && drops.first?.reason == .earlyDrop, "\(e): \(c.events.map(eventSummary))")
        } else {
            // A design that refuses at its limit (ovs) destroys nothing.
            #expect(drops.isEmpty && c.events.filter { $0.kind == .new }.count == 2, "\(e): \(c.events.map(eventSummary))")
        }
        #expect(c.verdicts.count == 3)
    }
}
