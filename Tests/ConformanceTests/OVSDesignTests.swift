import Foundation
@testable import ConnTrack
import FlowGen
@testable import Harness
import Sync
import Synchronization
import Testing
import TestSupport

// The `ovs` design against OVS's documented and coded rules (the facts and
// where they come from: docs/ovs-design.md): the cuckoo map, the verdicts
// of lib/conntrack.c, conntrack-tcp.c and conntrack-other.c, the default
// timeouts, the limit, the sweeper, the faults.

private func ovsTable(limit: Int = 4096, timeouts: Timeouts = Timeouts(mode: .ovs), faults: Set<Fault> = []) -> OVSTable {
    OVSTable(TableConfig(buckets: 64, hashSeed: 7, faults: faults, timeouts: timeouts, maxConnections: limit))
}

private func flow(_ i: Int, _ proto: TransProto = .tcp, server: UInt16 = 80) -> TupleID {
    TupleID(srcAddr: v4(10, 1, UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)),
            srcPort: UInt16(truncatingIfNeeded: 40_000 + i), dstAddr: v4(192, 168, 7, 1), dstPort: server,
            transProto: proto, netProto: .ipv4)
}

/// A client (original-direction, output hook) or server (reply, prerouting) segment.
private func seg(_ id: TupleID, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: UInt16 = 0, reply: Bool = false,
                 at t: Int64 = 0) -> Packet {
    Packet(id: reply ? id.reversed : id, tcp: TCPSegment(flags: flags, seq: seq, ack: ack, payloadLength: len),
           hook: reply ? .prerouting : .output, timestamp: t)
}

private func udp(_ id: TupleID, reply: Bool = false, at t: Int64 = 0) -> Packet {
    Packet(id: reply ? id.reversed : id, hook: reply ? .prerouting : .output, timestamp: t)
}

/// One clean TCP connection with its verdicts by OVS's rules: the SYN
/// creates (`new`), everything after it is valid (`est`, `rpl` from the
/// server), through both FINs and the last ACK.
private func cleanTCP(_ id: TupleID, at t0: Int64) -> [(Packet, String)] {
    let ms = Duration_ns.millisecond
    return [
        (seg(id, .syn, seq: 100, at: t0), "new|trk"),
        (seg(id, [.syn, .ack], seq: 500, ack: 101, reply: true, at: t0 + 1 * ms), "est|rpl|trk"),
        (seg(id, .ack, seq: 101, ack: 501, at: t0 + 2 * ms), "est|trk"),
        (seg(id, [.psh, .ack], seq: 101, ack: 501, len: 100, at: t0 + 3 * ms), "est|trk"),
        (seg(id, .ack, seq: 501, ack: 201, reply: true, at: t0 + 4 * ms), "est|rpl|trk"),
        (seg(id, [.psh, .ack], seq: 501, ack: 201, len: 200, reply: true, at: t0 + 5 * ms), "est|rpl|trk"),
        (seg(id, .ack, seq: 201, ack: 701, at: t0 + 6 * ms), "est|trk"),
        (seg(id, [.fin, .ack], seq: 201, ack: 701, at: t0 + 7 * ms), "est|trk"),
        (seg(id, [.fin, .ack], seq: 701, ack: 202, reply: true, at: t0 + 8 * ms), "est|rpl|trk"),
        (seg(id, .ack, seq: 202, ack: 702, at: t0 + 9 * ms), "est|trk"),
    ]
}

/// A UDP exchange (`other_conn_update`): first packet new, the reply
/// makes it bidirectional (est, rpl), later packets est.
private func udpExchange(_ id: TupleID, at t0: Int64) -> [(Packet, String)] {
    let ms = Duration_ns.millisecond
    return [(udp(id, at: t0), "new|trk"), (udp(id, reply: true, at: t0 + 2 * ms), "est|rpl|trk"),
            (udp(id, at: t0 + 4 * ms), "est|trk"), (udp(id, reply: true, at: t0 + 6 * ms), "est|rpl|trk")]
}

/// One-way UDP: new until a reply, however many packets (OVS's
/// other_conn_update returns CT_UPDATE_VALID_NEW in OTHERS_FIRST and
/// OTHERS_MULTIPLE); the first reply is est|rpl, and the flow est after it.
private func udpOneWay(_ id: TupleID, at t0: Int64) -> [(Packet, String)] {
    let ms = Duration_ns.millisecond
    return [(udp(id, at: t0), "new|trk"), (udp(id, at: t0 + 3 * ms), "new|trk"), (udp(id, at: t0 + 5 * ms), "new|trk"),
            (udp(id, at: t0 + 7 * ms), "new|trk"), (udp(id, reply: true, at: t0 + 9 * ms), "est|rpl|trk"),
            (udp(id, at: t0 + 11 * ms), "est|trk")]
}

/// The displacement counter a table's maps share, for maps made alone.
nonisolated(unsafe) private let standaloneMoves: UnsafeMutablePointer<Atomic<UInt64>> = {
    let p = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: 1)
    p.initialize(to: Atomic(0))
    return p
}()

private func verdicts(_ t: OVSTable, _ ps: [(Packet, String)]) -> [String] {
    var c = context()
    return ps.map { t.track($0.0, now: $0.0.timestamp, &c).state.text }
}

@Suite struct OVSDesignTests {
    // MARK: The cuckoo map

    /// Filled to 85 % of 5 slots × 64 buckets (cmap's expansion point),
    /// entries must move along cuckoo paths, and every key stays findable;
    /// after half are removed the rest still are, the removed are not.
    @Test(.oneThread) func theMapFindsEveryKeyAtFullLoadAndAfterRemovals() throws {
        let map = CuckooMap(buckets: 64, basis: 99, moves: standaloneMoves)
        defer { map.destroy() }
        let queue = UnsafeMutablePointer<CuckooMap.Path>.allocate(capacity: CuckooMap.maxQueue)
        defer { queue.deallocate() }
        let conns = (0..<272).map { ConnNode.make(original: flow($0), reply: flow($0).reversed, hook: .output, now: 0, nat: false) }
        defer { for c in conns { ConnNode.destroy(c) } }
        var moved = 0
        for c in conns {
            let n = try #require(map.insert(c.originalPtr, hash: JenkinsHash.hash(c.pointee.original.id, seed: 1), queue: queue))
            moved += n
        }
        #expect(moved > 0, "85 % load without a single cuckoo move")
        for c in conns {
            #expect(map.find(c.pointee.original.id, hash: JenkinsHash.hash(c.pointee.original.id, seed: 1)).node == c.originalPtr)
        }
        for (i, c) in conns.enumerated() where i % 2 == 0 {
            #expect(map.remove(c.originalPtr, hash: JenkinsHash.hash(c.pointee.original.id, seed: 1)))
        }
        for (i, c) in conns.enumerated() {
            let hit = map.find(c.pointee.original.id, hash: JenkinsHash.hash(c.pointee.original.id, seed: 1)).node
            #expect(i % 2 == 0 ? hit == nil : hit == c.originalPtr)
        }
    }

    /// Readers take no lock: while one writer inserts and removes other
    /// keys (moving the readers' keys between their two buckets), two
    /// readers never miss a key that stays in the map.
    @Test func lockFreeReadersNeverMissAKeyWhileTheWriterDisplaces() {
        /// What the threads share: the map and connections stay until all joined.
        final class Rig: @unchecked Sendable {
            let map = CuckooMap(buckets: 16, basis: 5, moves: standaloneMoves)
            let queue = UnsafeMutablePointer<CuckooMap.Path>.allocate(capacity: CuckooMap.maxQueue)
            let stable = (0..<30).map { ConnNode.make(original: flow($0), reply: flow($0).reversed, hook: .output, now: 0, nat: false) }
            let churn = (100..<136).map { ConnNode.make(original: flow($0), reply: flow($0).reversed, hook: .output, now: 0, nat: false) }
            let done = Atomic<Bool>(false)
            let misses = Atomic<Int>(0), lookups = Atomic<Int>(0), moved = Atomic<Int>(0)
            func h(_ c: UnsafeMutablePointer<ConnNode>) -> UInt32 { JenkinsHash.hash(c.pointee.original.id, seed: 3) }
            deinit {
                map.destroy(); queue.deallocate()
                for c in stable + churn { ConnNode.destroy(c) }
            }
        }
        let rig = Rig()
        for c in rig.stable { _ = rig.map.insert(c.originalPtr, hash: rig.h(c), queue: rig.queue) }
        let writer = OSThread {
            var moved = 0
            for round in 0..<400 {
                for (i, c) in rig.churn.enumerated() where (i + round) % 3 != 0 {
                    if let n = rig.map.insert(c.originalPtr, hash: rig.h(c), queue: rig.queue) { moved += n }
                }
                for c in rig.churn { rig.map.remove(c.originalPtr, hash: rig.h(c)) }
            }
            rig.moved.store(moved, ordering: .relaxed)
            rig.done.store(true, ordering: .releasing)
        }
        let readers = (0..<2).map { _ in
            OSThread {
                var n = 0, missed = 0
                while !rig.done.load(ordering: .acquiring) || n < 10_000 {
                    let c = rig.stable[n % rig.stable.count]
                    if rig.map.find(c.pointee.original.id, hash: rig.h(c)).node != c.originalPtr { missed += 1 }
                    n += 1
                }
                rig.misses.add(missed, ordering: .relaxed)
                rig.lookups.add(n, ordering: .relaxed)
            }
        }
        writer.join()
        for r in readers { r.join() }
        #expect(rig.misses.load(ordering: .relaxed) == 0)
        #expect(rig.moved.load(ordering: .relaxed) > 0, "the writer never moved an entry: the test shows nothing")
        #expect(rig.lookups.load(ordering: .relaxed) >= 20_000)
        for c in rig.stable { #expect(rig.map.find(c.pointee.original.id, hash: rig.h(c)).node == c.originalPtr) }
    }

    /// As cmap: the map starts at the fewest buckets and nothing is set
    /// aside for the limit; it doubles as the keys pass 85 % of its slots,
    /// halves as they fall under 20 %, and every key stays findable across
    /// each rebuild. The maps replaced are freed once every registered
    /// thread has passed a quiescent point.
    @Test(.oneThread) func theMapGrowsAndShrinksWithTheConnections() {
        let t = ovsTable(limit: 1_000_000)
        var c = context()
        let slot = t.registerWorker()
        #expect(t.map.bucketCount == CuckooMap.minBuckets)
        let n = 3000
        for i in 0..<n { #expect(t.track(seg(flow(i), .syn, seq: 1), now: 0, &c).outcome == .created) }
        // 3,000 forward keys at most 85 % full: 1,024 buckets (512 hold
        // only 2,560 × 0.85), six doublings from 16.
        #expect(t.map.bucketCount == 1024)
        #expect(t.mapEntries == n)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        for i in 0..<n { #expect(t.track(seg(flow(i), .ack, seq: 2), now: 1, &c).outcome != .created) }
        #expect(t.retiredMaps.count == 6)
        t.workerQuiescent(slot)
        t.reclaim(&c)
        #expect(t.retiredMaps.isEmpty)
        // All but 10 expire and are swept: the map halves back down.
        for i in 0..<10 { _ = t.track(seg(flow(i), .ack, seq: 2), now: 29 * sec, &c) }
        #expect(t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: 31 * sec, &c).removed == n - 10)
        #expect(t.map.bucketCount == CuckooMap.minBuckets)
        #expect(t.mapEntries == 10)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        for i in 0..<10 { #expect(t.track(seg(flow(i), .ack, seq: 2), now: 31 * sec, &c).outcome != .created) }
        t.workerQuiescent(slot)
        t.reclaim(&c)
        #expect(t.retiredMaps.isEmpty)
    }

    /// A lookup that loaded a map keeps reading it after another thread
    /// replaced it: the old map is not freed before that reader's next
    /// quiescent point.
    @Test(.oneThread) func aReplacedMapWaitsForItsReaders() {
        let t = ovsTable(limit: 1_000_000)
        var c = context()
        let reader = t.registerWorker(), writer = t.registerWorker()
        _ = t.track(seg(flow(0), .syn, seq: 1), now: 0, &c)
        let held = t.mapSlot.load(ordering: .acquiring)
        for i in 1..<200 { _ = t.track(seg(flow(i), .syn, seq: 1), now: 0, &c) }
        #expect(t.mapSlot.load(ordering: .acquiring) != held)
        t.workerQuiescent(writer)
        t.reclaim(&c)
        // The reader has not passed a quiescent point: what it holds is intact.
        #expect(t.retiredMaps.contains { $0.map == held })
        #expect(held.pointee.find(flow(0), hash: t.hash(flow(0))).node?.pointee.direction == .original)
        t.workerQuiescent(reader)
        t.reclaim(&c)
        #expect(t.retiredMaps.isEmpty)
    }

    /// As today's OVS keys a connection: the forward key alone, whose
    /// symmetric hash a reply shares, so the reply finds the connection by
    /// it; a NAT connection's translated reverse key goes in too.
    @Test(.oneThread) func theMapHoldsForwardKeysAndReverseKeysOnlyForNAT() {
        let t = ovsTable()
        var c = context()
        let plain = flow(2)
        #expect(t.hash(plain) == t.hash(plain.reversed))
        _ = t.track(seg(plain, .syn, seq: 1), now: 0, &c)
        #expect(t.map.find(plain, hash: t.hash(plain)).node?.pointee.direction == .original)
        #expect(t.map.find(plain.reversed, hash: t.hash(plain.reversed)).node == nil)
        #expect(t.track(seg(plain, [.syn, .ack], seq: 9, ack: 2, reply: true), now: 1, &c).state.text == "est|rpl|trk")
        let id = flow(1)
        _ = t.track(Packet(id: id, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output, nat: (v4(172, 16, 0, 9), 8080)), now: 0, &c)
        let reply = id.redirectedReply(to: v4(172, 16, 0, 9), port: 8080)
        #expect(t.map.find(id, hash: t.hash(id)).node?.pointee.direction == .original)
        #expect(t.map.find(reply, hash: t.hash(reply)).node?.pointee.direction == .reply)
        #expect(t.map.find(id.reversed, hash: t.hash(id.reversed)).node == nil)
        #expect(t.mapEntries == 3)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// `conn_key_lookup` passes over an expired connection: the packet that
    /// finds only that makes a new one beside it, with the same key, and
    /// the old one stays, counted, until the sweeper takes it. A key's
    /// reply tuple held by an expired connection refuses nothing.
    @Test(.oneThread) func anExpiredConnectionStaysBesideItsSuccessorUntilSwept() {
        let t = ovsTable()
        var c = context()
        let id = flow(3, .udp, server: 53)
        _ = t.track(udp(id), now: 0, &c)
        let later = 61 * sec
        #expect(t.track(udp(id.reversed), now: later, &c).outcome == .created)
        #expect(t.track(udp(id), now: later + 1, &c).state.text == "est|rpl|trk")
        #expect(t.inspect().connections == 2 && t.mapEntries == 2)
        #expect(c.stats.insertFailed == 0 && c.stats.removedInline == 0)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        #expect(t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: later + 2, &c).removed == 1)
        #expect(t.inspect().connections == 1)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    // MARK: Verdicts (conn_update_state, tcp_conn_update, other_conn_update)

    @Test(.oneThread) func aCleanTCPConnectionIsNewThenEstablished() {
        let ps = cleanTCP(flow(2), at: 0)
        #expect(verdicts(ovsTable(), ps) == ps.map(\.1))
    }

    /// A SYN again before the SYN-ACK is CT_UPDATE_VALID_NEW (new); a
    /// SYN-ACK may not create a connection (`tcp_valid_new`: invalid);
    /// flags pf rejects are invalid on a connection and change nothing.
    @Test(.oneThread) func synRetransmitsSynAcksAndBadFlags() {
        let t = ovsTable()
        let a = flow(3), b = flow(4)
        let got = verdicts(t, [
            (seg(a, .syn, seq: 10), ""), (seg(a, .syn, seq: 10, at: sec), ""),
            (seg(b, [.syn, .ack], seq: 10, ack: 5), ""),
            (seg(a, [.syn, .ack], seq: 90, ack: 11, reply: true, at: 2 * sec), ""),
            (seg(a, [.syn, .fin], seq: 11, at: 3 * sec), ""), (seg(a, .fin, seq: 11, at: 3 * sec), ""),
        ])
        #expect(got == ["new|trk", "new|trk", "inv|trk", "est|rpl|trk", "inv|trk", "inv|trk"])
        #expect(t.inspect().connections == 1, "the SYN-ACK created nothing")
        // The bad-flag segments did not refresh the connection.
        #expect(t.exportConnections(now: 3 * sec).first?.lastUsed == 2 * sec)
    }

    /// A SYN on a connection closed in both directions is CT_UPDATE_NEW:
    /// the old connection is expired on the spot, the SYN creates a new one
    /// beside it (tuple reuse), and the sweeper takes the old one.
    @Test(.oneThread) func aSynAfterBothFinsReplacesTheConnection() {
        let t = ovsTable()
        let id = flow(5)
        var ps = cleanTCP(id, at: 0)
        ps.append((seg(id, .syn, seq: 9000, at: sec), "new|trk"))
        ps.append((seg(id, [.syn, .ack], seq: 7000, ack: 9001, reply: true, at: sec + 1), "est|rpl|trk"))
        var c = context()
        let got = ps.map { t.track($0.0, now: $0.0.timestamp, &c) }
        #expect(got.map(\.state.text) == ps.map(\.1))
        #expect(got[10].outcome == .created)
        // The old one was expired on the spot and stays for the sweeper.
        #expect(c.stats.created == 2 && c.stats.removedInline == 0)
        #expect(t.inspect().connections == 2 && t._checkInvariants(uniqueIDs: nil).ok)
        #expect(t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: sec + 2, &c).removed == 1)
        #expect(t.inspect().connections == 1 && t._checkInvariants(uniqueIDs: nil).ok)
    }

    @Test(.oneThread) func udpFollowsOVSsOtherProtocolRules() {
        let t = ovsTable()
        let ex = udpExchange(flow(6, .udp, server: 53), at: 0), one = udpOneWay(flow(7, .udp, server: 514), at: 0)
        #expect(verdicts(t, ex) == ex.map(\.1))
        #expect(verdicts(t, one) == one.map(\.1))
    }

    /// A NAT connection's packets carry dnat one way and snat back.
    @Test(.oneThread) func aTranslatedConnectionIsDnatThenSnat() {
        let t = ovsTable()
        var c = context()
        let id = flow(8, .udp)
        let target = (v4(172, 16, 0, 1), UInt16(5353))
        let first = t.track(Packet(id: id, hook: .output, nat: target), now: 0, &c).state
        let back = t.track(Packet(id: id.redirectedReply(to: target.0, port: target.1), hook: .prerouting), now: 1, &c).state
        #expect(first.text == "new|trk|dnat" && back.text == "est|rpl|trk|snat")
    }

    // MARK: Timeouts, lists, limit

    /// OVS's default policy (`ct_dpif_netdev_tp_def`): SYN_SENT 30 s,
    /// ESTABLISHED 24 h, UDP first 60 s and bidirectional 30 s. As OVS 3.x
    /// keeps them: new connections go to 100 lists in turn and stay there,
    /// and a state change updates the expiration in place.
    @Test(.oneThread) func ovsTimeoutsFollowTheStateAndConnectionsStayOnTheirList() throws {
        let o = Timeouts(mode: .ovs)
        #expect(o.synSent == 30 * sec && o.established == 86_400 * sec && o.lastAck == 45 * sec)
        #expect(o.finWait == 900 * sec && o.timeWait == 30 * sec && o.close == 30 * sec)
        #expect(o.udp == 60 * sec && o.udpStream == 30 * sec)
        let t = ovsTable()
        var c = context()
        let id = flow(9), u = flow(10, .udp)
        _ = t.track(seg(id, .syn, seq: 1), now: 0, &c)
        _ = t.track(udp(u), now: 0, &c)
        #expect(t.exportConnections(now: 0).map(\.timeoutLeft) == [30 * sec, 60 * sec])
        // New connections go to the 100 lists in turn.
        #expect(Array(t.inspect().slotLengths.prefix(3)) == [1, 1, 0] && t.inspect().slotLengths.count == 100)
        let locksBefore = c.stats.tableLock.acquisitions
        _ = t.track(seg(id, [.syn, .ack], seq: 50, ack: 2, reply: true), now: sec, &c)
        _ = t.track(udp(u, reply: true), now: sec, &c)
        // TCP_OPENING (the SYN_RECV attribute, 30 s) until the handshake's last ACK.
        #expect(t.exportConnections(now: sec).map(\.timeoutLeft) == [30 * sec, 30 * sec])
        _ = t.track(seg(id, .ack, seq: 2, ack: 51), now: 2 * sec, &c)
        #expect(t.exportConnections(now: 2 * sec).map(\.timeoutLeft) == [86_400 * sec, 29 * sec])
        // The expiration changed in place: no ct_lock, no list moved.
        #expect(c.stats.tableLock.acquisitions == locksBefore)
        #expect(Array(t.inspect().slotLengths.prefix(3)) == [1, 1, 0])
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// At the limit a new connection is not committed (`conntrack_full`):
    /// the packet stays `new|trk`, nothing is dropped to make room.
    @Test(.oneThread) func theLimitRefusesWithoutEarlyDrop() {
        #expect(OVSTable(TableConfig(hashSeed: 1)).sweepSlots == 3_000_000)
        let t = ovsTable(limit: 3)
        var c = context()
        for i in 0..<3 { _ = t.track(seg(flow(20 + i), .syn, seq: 1), now: 0, &c) }
        let r = t.track(seg(flow(30), .syn, seq: 1), now: 0, &c)
        #expect(r.outcome == .notTracked && r.state.text == "new|trk")
        #expect(c.stats.drop == 1 && c.stats.earlyDrop == 0 && t.inspect().connections == 3)
        // Expired connections hold their places until the sweeper takes them.
        #expect(t.track(seg(flow(31), .syn, seq: 1), now: 31 * sec, &c).outcome == .notTracked)
        #expect(t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: 31 * sec, &c).removed == 3)
        #expect(t.track(seg(flow(31), .syn, seq: 1), now: 31 * sec, &c).outcome == .created)
    }

    // MARK: The sweeper

    /// OVS's schedule: a pass covers limit/64 positions, the next pass of
    /// an unfinished sweep comes 200 ms later, the next sweep 20 s after
    /// one ends; on the table a pass walks whole lists until it has visited
    /// more than limit/64 connections (`conntrack_clean`), and the next
    /// resumes at the list after.
    @Test(.oneThread) func theSweeperWalksTheListsInPassesOfOneSixtyFourth() {
        var p = OVSReaperPolicy()
        #expect(p.plan(tableSize: 3_000_000).maxSlots == 46_875)
        #expect(p.next(after: ReapPassResult(nextStart: 46_875), previous: 0, tableSize: 3_000_000) == 200 * Duration_ns.millisecond)
        #expect(p.next(after: ReapPassResult(nextStart: 3_000_000), previous: 0, tableSize: 3_000_000) == 20 * sec)
        let t = ovsTable(limit: 640)
        var c = context()
        for i in 0..<100 { _ = t.track(udp(flow(i, .udp)), now: Int64(i) * sec, &c) }
        // At 100 s the first 41 (created at 0...40 s, 60 s each) are expired:
        // OVS's connection is expired from its expiration on.
        var start = 0, passes = 0, removed = 0, checked = 0
        repeat {
            let plan = p.plan(tableSize: t.sweepSlots)
            let r = t.reapPass(start: start, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions, now: 100 * sec, &c)
            // Whole lists until more than limit/64 = 10 were visited: one list
            // (one connection here) past the budget at most.
            #expect(r.checked <= 11)
            removed += r.removed; checked += r.checked; passes += 1
            start = r.nextStart
        } while start % t.sweepSlots != 0 && passes < 100
        #expect(removed == 41 && checked == 100, "every connection visited once")
        #expect(passes == 10 && t.inspect().connections == 59)
        #expect(t.expiredCount(now: 100 * sec) == 0 && t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// As an rculist: a connection taken off its list while the sweeper
    /// may stand on it keeps its next link, and is not freed before the
    /// walk ends, whoever reclaims meanwhile (`ct_sweep` walks without
    /// ct_lock; `conn_clean` frees through `ovsrcu_postpone`).
    @Test(.oneThread) func aConnectionRemovedUnderAWalkKeepsItsLinkUntilTheWalkEnds() {
        let t = ovsTable()
        var c = context()
        // Lists are dealt in turn: list 0 holds flows 200, 100, 0 (newest first).
        for i in 0...200 { _ = t.track(udp(flow(i, .udp)), now: 0, &c) }
        t.reclaimer.epochs.walkBegin()
        let head = t.walkHead(0)!
        let middle = OVSTable.walkNext(head)!
        let last = OVSTable.walkNext(middle)!
        #expect(head.isOriginal(flow(200, .udp)) && middle.isOriginal(flow(100, .udp)) && last.isOriginal(flow(0, .udp)))
        t.lockCT(&c)
        t.remove(middle, reason: .other, now: sec, &c)
        t.unlockCT(&c)
        #expect(OVSTable.walkNext(head) == last, "the list goes round it")
        #expect(OVSTable.walkNext(middle) == last, "a walker standing on it walks on")
        t.reclaim(&c)
        #expect(t.reclaimer.backlog == 1, "not freed while the walk may hold it")
        t.reclaimer.epochs.walkEnd()
        t.reclaim(&c)
        #expect(t.reclaimer.backlog == 0)
        #expect(t._checkInvariants(uniqueIDs: nil).ok && t.inspect().connections == 200)
    }

    /// The expiration is one word, set with the state that gives it
    /// (`conn_update_expiration`) and read without a lock; the invariant
    /// check compares the two.
    @Test(.oneThread) func theExpirationIsSetWithTheStateThatGivesIt() {
        let t = ovsTable()
        var c = context()
        let u = flow(5, .udp)
        _ = t.track(udp(u), now: 1_500_000, &c)
        let conn = t.walkHead(0)!
        // OVS's millisecond: set in the first one, so 1 ms plus UDP's first timeout.
        #expect(t.remaining(conn, now: 0) == Duration_ns.millisecond + Timeouts(mode: .ovs).udp)
        _ = t.track(udp(u, reply: true), now: 2 * sec, &c)
        #expect(t.remaining(conn, now: 2 * sec) == Timeouts(mode: .ovs).udpStream)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        OVSTable.expirationWord(conn).pointee.store(0, ordering: .relaxed)
        #expect(t._checkInvariants(uniqueIDs: nil).violations.contains { $0.contains("expiration") })
    }

    // MARK: Faults

    /// ct_lock taken while a connection mutex is held: the rank checker
    /// reports it (ct-lock < connection).
    @Test(.oneThread) func takingCtLockUnderAConnectionMutexIsAViolation() {
        let t = ovsTable(faults: [.ctLockAfterConn])
        var c = context()
        let u = flow(40, .udp)
        _ = t.track(udp(u), now: 0, &c)
        #expect(c.locks.violations.isEmpty)
        _ = t.track(udp(u, reply: true), now: sec, &c)
        #expect(c.locks.violations.contains { $0.acquiring == .ctLock && $0.held == .connection })
        let clean = ovsTable()
        var d = context()
        _ = clean.track(udp(u), now: 0, &d)
        _ = clean.track(udp(u, reply: true), now: sec, &d)
        #expect(d.locks.violations.isEmpty)
    }

    // MARK: --verdicts on a capture

    /// `run --design ovs --verdicts` on a capture of clean TCP and UDP
    /// flows (with a tuple reused after its close) gives, packet for
    /// packet, the flags OVS's rules give.
    @Test(arguments: [1, 2])
    func verdictsOfACaptureOfCleanFlowsAreOVSs(_ threads: Int) throws {
        let ms = Duration_ns.millisecond
        var expected: [(Packet, String)] = []
        for i in 0..<6 { expected += cleanTCP(flow(200 + i), at: Int64(i) * 20 * ms + 1) }
        for i in 0..<4 { expected += udpExchange(flow(300 + i, .udp, server: 53), at: Int64(i) * 25 * ms + 2) }
        for i in 0..<3 { expected += udpOneWay(flow(400 + i, .udp, server: 514), at: Int64(i) * 30 * ms + 3) }
        // The first TCP tuple again, a second after its close.
        for (p, v) in cleanTCP(flow(200), at: 1_200 * ms) {
            var q = p; q.tcp.seq &+= 77_000; if q.tcp.ack != 0 { q.tcp.ack &+= 77_000 }
            expected.append((q, v))
        }
        expected.sort { $0.0.timestamp < $1.0.timestamp }
        var w = PcapWriter()
        for (p, _) in expected { w.append(p) }
        let dir = FileManager.default.temporaryDirectory.path
        let path = dir + "/ovs-verdicts-\(getpid())-\(threads).pcap"
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let capture = try Capture(path: path)
        var cfg = RunConfig()
        cfg.design = "ovs"
        cfg.table = TableConfig(buckets: 64, hashSeed: 3, timeouts: Timeouts(mode: .ovs))
        cfg.policy = .ovs(OVSReaperPolicy())
        cfg.threads = threads
        cfg.deterministic = threads == 1
        cfg.chunk = 256
        cfg.scenario.packets = capture.stats.used
        let trace = TraceRecorder(verdicts: true, events: false, spillDirectory: dir)
        cfg.trace = trace
        let report = try Runner.run(cfg, capture: capture)
        #expect(report.outcome == .ok && report.packets == UInt64(expected.count))
        var out: [UInt8] = []
        try trace.writeVerdicts { out += $0 }
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
        let want = expected.enumerated().map { "\($0.offset + 1): \($0.element.1)" }
        #expect(lines.count == want.count)
        for (g, e) in zip(lines, want) where g != e { Issue.record("got \(g), OVS's rules give \(e)") }
    }
}
