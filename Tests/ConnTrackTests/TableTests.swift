import Testing
@testable import ConnTrack
import TestSupport

@Suite(.oneThread) struct TableTests {
    let a = tcpTuple(v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 80)

    @Test(arguments: Variant.allCases)
    func synCreatesOneConnectionWithTwoTuples(_ v: Variant) {
        let t = makeTable(v)
        var c = ctx()
        #expect(t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(0), &c) == .created)
        #expect(t.connections().count == 1)
        #expect(t.tupleCount == 2)
        #expect(t.lookup(a, now: 0, &c)?.1 == .original)
        #expect(t.lookup(a.reversed, now: 0, &c)?.1 == .reply)
        #expect(t._checkInvariants().ok)
        #expect(c.locks.violations.isEmpty)
    }

    @Test(arguments: Variant.allCases)
    func aLaterPacketRefreshesLastUsed(_ v: Variant) throws {
        let t = makeTable(v)
        var c = ctx()
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(0), &c)
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(60 * sec), &c)
        let conn = try #require(t.lookup(a, now: 60 * sec, &c)).0
        #expect(conn.lastUsed == 60 * sec)
    }

    @Test(arguments: Variant.allCases)
    func unestablishedIsAliveAt120sAndReaped1nsLater(_ v: Variant) {
        let t = makeTable(v)
        var c = ctx()
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(0), &c)
        #expect(t.lookup(a, now: 120 * sec, &c) != nil)
        #expect(t.lookup(a, now: 120 * sec + 1, &c) == nil)
        #expect(t.tupleCount == 0)
        #expect(c.stats.removedInline == 1)
    }

    @Test func establishedSurvives120sAndExpiresAfter5Days() {
        let t = makeTable(.fixed)
        var c = ctx()
        handshake(t, a, now: 0, &c)
        #expect(t.lookup(a, now: 0, &c)?.0.trackerState == .alive)
        #expect(t.lookup(a, now: 121 * sec, &c) != nil)
        // The lookup at 121 s did not refresh lastUsed (only packets do).
        #expect(t.lookup(a, now: 5 * Duration_ns.day, &c) != nil)
        #expect(t.lookup(a, now: 5 * Duration_ns.day + 1, &c) == nil)
    }

    @Test func seed2020NeverReachesAliveWhenTheSynAckInitialisesTheTracker() {
        // The 2020 code: the creating SYN skips the tracker; the SYN-ACK
        // initialises it as if it were the SYN, so the handshake never
        // completes and the connection dies after 120 s idle.
        let t = makeTable(.seed2020)
        var c = ctx()
        handshake(t, a, now: 0, &c)
        #expect(t.lookup(a, now: 0, &c)?.0.trackerState == .connecting)
        #expect(t.lookup(a, now: 121 * sec, &c) == nil)
    }

    /// Finds a NAT redirect whose reply tuple hashes to a different bucket.
    func natPair(_ t: BucketTable) -> (TupleID, IPAddress, UInt16, Int, Int) {
        var port: UInt16 = 8000
        while true {
            let target = v4(192, 168, 7, 7)
            let reply = a.redirectedReply(to: target, port: port)
            let ob = t.bucketIndex(a), rb = t.bucketIndex(reply)
            if ob != rb { return (reply, target, port, ob, rb) }
            port += 1
        }
    }

    @Test(arguments: Variant.allCases)
    func natConnectionIsReapedFromTheLowerBucketOnly(_ v: Variant) {
        let t = makeTable(v, buckets: 64)
        var c = ctx()
        let (reply, target, port, ob, rb) = natPair(t)
        #expect(t.handlePacket(out(a, .syn, seq: 1, nat: (target, port)), clock: VirtualClock(0), &c) == .created)
        #expect(t.lookup(reply, now: 0, &c)?.1 == .reply)
        let (lo, hi) = (min(ob, rb), max(ob, rb))
        let late = 200 * sec
        // From the higher bucket: expired, but only reported.
        let p1 = t.reapPass(start: hi, maxSlots: 1, now: late, &c)
        #expect(p1.expired == 1 && p1.deferred == 1 && p1.removed == 0)
        #expect(t.tupleCount == 2)
        // From the lower bucket: removed, both tuples.
        let p2 = t.reapPass(start: lo, maxSlots: 1, now: late, &c)
        #expect(p2.expired == 1 && p2.removed == 1)
        #expect(t.tupleCount == 0)
        #expect(t._checkInvariants().ok)
        #expect(c.stats.deferredByLockOrder == 1 && c.stats.removedByReaper == 1)
    }

    @Test func recomputedNatPartnerCorruptsTheTable() {
        let t = makeTable(.fixed, buckets: 64, faults: [.recomputeNatPartner])
        var c = ctx()
        let (_, target, port, ob, rb) = natPair(t)
        _ = t.handlePacket(out(a, .syn, seq: 1, nat: (target, port)), clock: VirtualClock(0), &c)
        _ = t.reapPass(start: min(ob, rb), maxSlots: 64, now: 200 * sec, &c)
        #expect(!t._checkInvariants().ok)
    }

    /// Two connections in one bucket: X (refreshed, live) behind Y (expired).
    func liveBehindExpired(_ v: Variant) -> (BucketTable, WorkerContext, TupleID) {
        let t = makeTable(v, buckets: 1)
        var c = ctx()
        let x = a
        let y = tcpTuple(v4(10, 0, 0, 3), 40001, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(x, .syn, seq: 1), clock: VirtualClock(0), &c)
        _ = t.handlePacket(out(y, .syn, seq: 1), clock: VirtualClock(1 * sec), &c)
        _ = t.handlePacket(out(x, .syn, seq: 1), clock: VirtualClock(100 * sec), &c)
        return (t, c, x)
    }

    @Test func seed2020LookupMissesALiveTupleBehindAnExpiredOne() {
        var (t, c, x) = liveBehindExpired(.seed2020)
        #expect(t.lookup(x, now: 125 * sec, &c) == nil, "the 2020 walk stops at the first reap")
        #expect(t.connections().count == 1, "X is still there")
        // Through the packet path the miss creates a second connection.
        var (t2, c2, _) = liveBehindExpired(.seed2020)
        #expect(t2.handlePacket(out(x, .ack, seq: 2), clock: VirtualClock(125 * sec), &c2) == .created)
        let r = t2._checkInvariants()
        #expect(r.ok)
        #expect(r.duplicateIDs == 2 && r.connections == 2)
    }

    @Test func fixedLookupFindsTheLiveTupleBehindAnExpiredOne() {
        var (t, c, x) = liveBehindExpired(.fixed)
        #expect(t.lookup(x, now: 125 * sec, &c) != nil)
        #expect(t.handlePacket(out(x, .ack, seq: 2), clock: VirtualClock(126 * sec), &c) == .tracked(.drop))
        let r = t._checkInvariants()
        #expect(r.ok && r.duplicateIDs == 0 && r.connections == 1)
    }

    @Test func walkAfterRemoveFaultMakesFixedBehaveLikeSeed() {
        let t = makeTable(.fixed, buckets: 1, faults: [.walkAfterRemove])
        var c = ctx()
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(0), &c)
        let y = tcpTuple(v4(10, 0, 0, 3), 40001, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(y, .syn, seq: 1), clock: VirtualClock(1 * sec), &c)
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(100 * sec), &c)
        #expect(t.lookup(a, now: 125 * sec, &c) == nil)
    }

    @Test(arguments: Variant.allCases)
    func tuplesAlwaysEqualTwiceLiveConnections(_ v: Variant) {
        let t = makeTable(v, buckets: 8)
        var c = ctx()
        var rng = SplitMix64(seed: 7)
        for i in 0..<2000 {
            let id = tcpTuple(v4(10, 0, UInt8(rng.next() % 4), UInt8(rng.next() % 8)), UInt16(1000 + rng.next() % 50),
                              v4(10, 1, 0, 1), 80)
            let now = Int64(i) * sec / 4
            _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(now), &c)
            if i % 97 == 0 { _ = t.reapPass(start: Int(rng.next() % 8), maxSlots: 3, now: now, &c) }
            if i % 250 == 0 {
                let r = t._checkInvariants()
                #expect(r.ok, "\(r)")
                #expect(r.tuples == 2 * r.connections)
                #expect(UInt64(r.connections) == c.stats.created - c.stats.removed)
            }
        }
        #expect(c.locks.violations.isEmpty)
    }

    @Test(arguments: Variant.allCases)
    func aFullSweepWithNothingExpiredRemovesNothing(_ v: Variant) {
        let t = makeTable(v, buckets: 256)
        var c = ctx()
        for p in 0..<300 {
            _ = t.handlePacket(out(tcpTuple(v4(10, 0, 1, 1), UInt16(2000 + p), v4(10, 0, 0, 2), 80), .syn, seq: 1),
                               clock: VirtualClock(0), &c)
        }
        let r = t.reapPass(start: 0, maxSlots: 256, now: 120 * sec, &c)
        #expect(r.checked == 600 && r.expired == 0 && r.removed == 0)
        #expect(t.tupleCount == 600)
    }

    @Test func fixedRecheckTurnsARacingInsertIntoAClash() {
        let t = makeTable(.fixed)
        var c = ctx()
        _ = t.handlePacket(out(a, .syn, seq: 1), clock: VirtualClock(0), &c)
        // Simulate the loser of a race: insert a second connection directly.
        let n = ConnNode.make(original: a, reply: a.reversed, hook: .output, now: 0, nat: false)
        if case .clash = t.insert(n, &c) {} else { Issue.record("expected a clash") }
        ConnNode.destroy(n)
        #expect(c.stats.insertClash == 1)
        #expect(t._checkInvariants().ok)
    }

    @Test func limitEarlyDropsAnUnestablishedConnectionElseRefuses() {
        let t = makeTable(.fixed, buckets: 1, limit: 2)
        var c = ctx()
        handshake(t, a, now: 0, &c)                    // established
        let b = tcpTuple(v4(10, 0, 0, 5), 1, v4(10, 0, 0, 2), 80)
        let d = tcpTuple(v4(10, 0, 0, 6), 1, v4(10, 0, 0, 2), 80)
        let e = tcpTuple(v4(10, 0, 0, 7), 1, v4(10, 0, 0, 2), 80)
        #expect(t.handlePacket(out(b, .syn, seq: 1), clock: VirtualClock(0), &c) == .created)
        handshake(t, d, now: 0, &c)                    // its SYN early-drops b
        #expect(c.stats.earlyDrop == 1)
        #expect(t.lookup(b, now: 0, &c) == nil && t.lookup(a, now: 0, &c) != nil)
        #expect(t.handlePacket(out(e, .syn, seq: 1), clock: VirtualClock(0), &c) == .notTracked)
        #expect(c.stats.drop == 1)
        #expect(t._checkInvariants().ok)
    }

    /// The 2020 tracker is handed the TCP header alone, so data does not
    /// advance its sequence space; `fixed` counts the payload.
    @Test(arguments: Variant.allCases)
    func onlyFixedTellsTheTrackerThePayloadLength(_ v: Variant) throws {
        let t = makeTable(v)
        var c = ctx()
        let id = tcpTuple(v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 80)
        handshake(t, id, now: 0, &c)
        let conn = try #require(t.connections().first { $0.originalID == id })
        // The client's stream: outbound when its hook initialised the
        // tracker (fixed), inbound when the SYN-ACK did (seed2020).
        func clientNxt() -> UInt32 {
            let s = conn.snapshot()
            return s.hook == .output ? s.tcb.outbound.nxt : s.tcb.inbound.nxt
        }
        let before = clientNxt()
        _ = t.handlePacket(out(id, .ack, seq: 1001, ack: 5001, len: 100), clock: VirtualClock(sec), &c)
        #expect(clientNxt() &- before == (v == .fixed ? 100 : 0))
    }

    @Test func descendingLockOrderIsCaughtByTheRankChecker() {
        let t = makeTable(.fixed, buckets: 64, faults: [.descendingLockOrder])
        var c = ctx()
        var p: UInt16 = 1
        while t.bucketIndex(tcpTuple(v4(10, 0, 0, 1), p, v4(10, 0, 0, 2), 80))
                == t.bucketIndex(tcpTuple(v4(10, 0, 0, 2), 80, v4(10, 0, 0, 1), p)) { p += 1 }
        _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), p, v4(10, 0, 0, 2), 80), .syn, seq: 1), clock: VirtualClock(0), &c)
        #expect(c.locks.violations.count == 1)
        let v = c.locks.violations[0]
        guard case .bucket(let lo) = v.acquiring, case .bucket(let hi) = v.held else {
            Issue.record("expected two buckets: \(v)"); return
        }
        #expect(lo < hi)
        #expect(v.acquiringSite.contains("BucketTable+Insert.swift"))
    }

    @Test func connectionLayoutPutsEachTupleOnOneCacheLine() {
        #expect(MemoryLayout<TupleNode>.stride == 64)
        #expect(MemoryLayout<ConnNode>.offset(of: \ConnNode.mutex) == 0)
        #expect(MemoryLayout<ConnNode>.offset(of: \ConnNode.tcb)! < 64, "tracker state on the lock's line")
        #expect(MemoryLayout<ConnNode>.offset(of: \ConnNode.original) == 128)
        #expect(MemoryLayout<ConnNode>.offset(of: \ConnNode.reply) == 192)
        let c = ConnNode.make(original: a, reply: a.reversed, hook: .output, now: 0, nat: false)
        #expect(UInt(bitPattern: c) % 64 == 0)
        ConnNode.destroy(c)
    }

    @Test func udpTimeoutsAre30sThen120sOnceReplied() {
        let t = makeTable(.fixed)
        var c = ctx()
        let u = TupleID(srcAddr: v4(10, 0, 0, 1), srcPort: 5353, dstAddr: v4(8, 8, 8, 8), dstPort: 53, transProto: .udp, netProto: .ipv4)
        _ = t.handlePacket(Packet(id: u, hook: .output), clock: VirtualClock(0), &c)
        #expect(t.lookup(u, now: 30 * sec + 1, &c) == nil)
        _ = t.handlePacket(Packet(id: u, hook: .output), clock: VirtualClock(100 * sec), &c)
        _ = t.handlePacket(Packet(id: u.reversed, hook: .prerouting), clock: VirtualClock(100 * sec), &c)
        #expect(t.lookup(u, now: 220 * sec, &c) != nil)
        #expect(t.lookup(u, now: 220 * sec + 1, &c) == nil)
    }

    @Test func linuxTimeoutTableFollowsTheTrackerState() {
        var tcb = TCB()
        let lt = Timeouts(mode: .linux)
        tcb.initialise(TCPSegment(flags: .syn, seq: 1))
        #expect(lt.timeout(proto: .tcp, tcb: tcb, udp: UDPState()) == 120 * sec)
        tcb.updateInbound(TCPSegment(flags: [.syn, .ack], seq: 9, ack: 2))
        #expect(lt.timeout(proto: .tcp, tcb: tcb, udp: UDPState()) == 5 * Duration_ns.day)
        // Linux: the first FIN (here from the reply side) is FIN_WAIT; its
        // ACK makes it CLOSE_WAIT.
        tcb.updateInbound(TCPSegment(flags: [.fin, .ack], seq: 10, ack: 2))
        #expect(lt.timeout(proto: .tcp, tcb: tcb, udp: UDPState()) == 120 * sec)   // FIN_WAIT
        tcb.updateOutbound(TCPSegment(flags: .ack, seq: 2, ack: 11))
        #expect(lt.timeout(proto: .tcp, tcb: tcb, udp: UDPState()) == 60 * sec)   // CLOSE_WAIT
        tcb.updateInbound(TCPSegment(flags: .rst, seq: 11))
        #expect(lt.timeout(proto: .tcp, tcb: tcb, udp: UDPState()) == 10 * sec)   // CLOSE
    }
}
