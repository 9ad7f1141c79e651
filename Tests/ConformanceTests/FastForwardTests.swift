import ConnTrack
import Sync
import Testing
import TestSupport

// The contract of a design's sweep summary: a pass computed from it is the
// pass the walk makes, and real passes keep it true of the table.

/// A table of mixed connections created between 0 and 100 s: TCP SYNs
/// (120 s), UDP (30 s), NAT redirects (the partner in another slot) and a
/// self-connection (both tuples equal).
func populateMixed(_ t: any ConnTrackTable) {
    var c = context()
    for i in 0..<90 {
        let now = Int64(i) * 1_100 * Duration_ns.millisecond
        var id = client(i)
        if i % 3 == 1 { id.transProto = .udp }
        let nat = i % 5 == 2 ? (v4(172, 16, 0, UInt8(i)), UInt16(8000 + i)) : nil
        _ = t.handlePacket(syn(id, nat: nat), clock: VirtualClock(now), &c)
    }
    let land = TupleID(srcAddr: v4(10, 9, 9, 9), srcPort: 7, dstAddr: v4(10, 9, 9, 9), dstPort: 7,
                       transProto: .tcp, netProto: .ipv4)
    _ = t.handlePacket(syn(land), clock: VirtualClock(50 * sec), &c)
}

/// The counters a pass adds to its context.
func passCounters(_ s: TableStats) -> [UInt64] {
    [s.tableLock.acquisitions, s.bucketLock.acquisitions, s.connLock.acquisitions, s.removedByReaper,
     s.deferredByLockOrder]
}

@Suite(.oneThread) struct FastForwardTests {
    @Test(arguments: stateful)
    func anIdlePassIsThePassTheWalkMakes(_ e: DesignEntry) {
        let t = makeTable(e, slots: 32)
        populateMixed(t)
        let summary = t.makeSweepSummary()
        var answered = 0, declined = 0
        for now in stride(from: Int64(0), to: 300 * sec, by: Int(7 * sec)) {
            for (start, slots, cap) in [(0, 32, Int.max), (5, 8, 64), (30, 7, 0), (31, 40, .max), (64, 3, 1)] {
                var a = context(), b = context()
                guard let r = t.idlePass(start: start, maxSlots: slots, maxEvictions: cap, now: now, summary: summary, &a) else {
                    declined += 1; continue
                }
                answered += 1
                let w = t.reapPass(start: start, maxSlots: slots, maxEvictions: cap, now: now, &b)
                #expect(r == w, "\(e.label) start \(start) slots \(slots) cap \(cap) at \(now)")
                #expect(passCounters(a.stats) == passCounters(b.stats))
            }
        }
        if summary.valid {
            // Both answers occur: early passes find nothing, late ones must walk.
            #expect(answered > 0 && declined > 0)
        } else {
            // A design that does not fast-forward (the protocol's default) walks every pass.
            #expect(answered == 0)
        }
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    @Test(arguments: stateful)
    func realPassesKeepTheSummaryTrueOfTheTable(_ e: DesignEntry) {
        let t = makeTable(e, slots: 32)
        populateMixed(t)
        var s = t.makeSweepSummary()
        var c = context()
        var removed = 0
        for (k, now) in stride(from: 60 * sec, to: 260 * sec, by: Int(20 * sec)).enumerated() {
            let r = t.reapPass(start: k * 5, maxSlots: 9, maxEvictions: .max, now: now, updating: &s, &c)
            removed += r.removed
            guard s.valid else { s = t.makeSweepSummary(); continue }
            let fresh = t.makeSweepSummary()
            #expect(s.size == fresh.size)
            for i in 0..<min(s.size, fresh.size) {
                #expect(s[leaf: i].count == fresh[leaf: i].count && s[leaf: i].sumExpiry == fresh[leaf: i].sumExpiry,
                        "\(e.label) slot \(i) after pass \(k)")
                // Only ever low, so "nothing expired" stays true.
                #expect(s[leaf: i].minExpiry <= fresh[leaf: i].minExpiry)
            }
        }
        #expect(removed > 0)
    }

    /// Packets that refresh connections from both sides (a NAT reply's
    /// connection has its other tuple in a third slot) and create new ones:
    /// the updated summary counts what a fresh one counts.
    @Test(arguments: stateful)
    func packetsKeepTheSummaryTrueOfTheTable(_ e: DesignEntry) {
        let t = makeTable(e, slots: 32)
        var c = context()
        var replies: [Packet] = []
        for i in 0..<40 {
            let id = client(i)
            let nat = i % 2 == 0 ? (v4(172, 16, 0, UInt8(i)), UInt16(8000 + i)) : nil
            _ = t.handlePacket(syn(id, nat: nat), clock: VirtualClock(Int64(i) * 100 * Duration_ns.millisecond), &c)
            let reply = nat.map { id.redirectedReply(to: $0.0, port: $0.1) } ?? id.reversed
            replies.append(Packet(id: reply, tcp: TCPSegment(flags: [.syn, .ack], seq: 5000, ack: 1001), hook: .prerouting,
                                  timestamp: 20 * sec))
        }
        var s = t.makeSweepSummary()
        let later = replies + (40..<50).map { i in var p = syn(client(i)); p.timestamp = 21 * sec; return p }
        for p in later { _ = t.handlePacket(p, clock: VirtualClock(p.timestamp), &c) }
        later.withUnsafeBufferPointer { t.updateSweepSummary(&s, after: $0) }
        guard s.valid else {
            // A design may give up (global-lock reorders its map); never wrong.
            #expect(e.traits.name != "buckets", "the bucket table should follow refreshes and inserts")
            return
        }
        let fresh = t.makeSweepSummary()
        for i in 0..<s.size {
            #expect(s[leaf: i].count == fresh[leaf: i].count && s[leaf: i].sumExpiry == fresh[leaf: i].sumExpiry,
                    "\(e.label) slot \(i)")
            #expect(s[leaf: i].minExpiry <= fresh[leaf: i].minExpiry)
        }
    }

    @Test func windowsWrapAndCountSlotsWalkedTwice() {
        let leaves = (0..<5).map { SweepSummary.Leaf(count: $0, minExpiry: Int64(10 * $0), sumExpiry: Int128($0)) }
        let s = SweepSummary(leaves: leaves)
        #expect(s.window(start: 3, length: 4) == leaves[3] + leaves[4] + leaves[0] + leaves[1])
        #expect(s.window(start: 8, length: 1) == leaves[3])
        #expect(s.window(start: 1, length: 12).count == 2 * 10 + 1 + 2)
        #expect(s.window(start: 0, length: 0) == .empty)
        var m = s
        m.removeEntry(slot: 4, expiry: 1)
        #expect(m.range(0, 5).count == 9 && m.range(0, 5).sumExpiry == 9 && m[leaf: 4].minExpiry == 40)
    }
}
