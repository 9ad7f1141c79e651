@testable import ConnTrack
import Testing
import TestSupport

// The `linux` design's table rules (docs/linux-design.md): the kernel's
// default size, early drop, the chain-length limit, clash handling on
// confirmation, TIME_WAIT reopen and the UDP stream rule.

func linuxTable(buckets: Int = 512, limit: Int? = nil, faults: Set<Fault> = []) -> LinuxTable {
    LinuxTable(TableConfig(buckets: buckets, hashSeed: 0xC0FFEE, faults: faults, maxConnections: limit))
}

func syn(_ id: TupleID, seq: UInt32 = 1000) -> Packet {
    Packet(id: id, tcp: TCPSegment(flags: .syn, seq: seq), hook: .output)
}

/// Client tuples whose original lands in bucket `b` of `t`.
func tuples(in b: Int, of t: LinuxTable, count: Int) -> [TupleID] {
    var out: [TupleID] = []
    var i: UInt32 = 0
    while out.count < count {
        let id = tcpTuple(IPAddress(v4: 0x0a00_0000 | (i >> 16)), UInt16(truncatingIfNeeded: i), v4(192, 168, 1, 1), 443)
        if t.bucket(id) == b { out.append(id) }
        i += 1
    }
    return out
}

@Suite(.oneThread) struct LinuxTableTests {
    /// `nf_conntrack_init_start`: 1/16384 of memory in 8-byte heads, at
    /// least 1,024; 65,536 above 1 GiB; 262,144 above 4 GiB.
    @Test func theKernelsDefaultSize() {
        let mib = 1 << 20
        #expect(LinuxTable.kernelDefaultBuckets(memory: 64 * mib) == 1024)
        #expect(LinuxTable.kernelDefaultBuckets(memory: 512 * mib) == 4096)
        #expect(LinuxTable.kernelDefaultBuckets(memory: 1024 * mib) == 8192)
        #expect(LinuxTable.kernelDefaultBuckets(memory: 1024 * mib + 4096) == 65_536)
        #expect(LinuxTable.kernelDefaultBuckets(memory: 4096 * mib + 4096) == 262_144)
    }

    /// The size is rounded to a page of heads (512); without `--buckets`
    /// the expected connections raise the default; the limit is the size.
    @Test func sizeAndDefaultLimit() {
        #expect(LinuxTable.size(TableConfig(buckets: 64)) == 512)
        #expect(LinuxTable.size(TableConfig(buckets: 1000)) == 1024)
        var c = TableConfig()
        c.bucketsGiven = false
        let dflt = LinuxTable.size(c)
        #expect(dflt >= 1024 && dflt % 512 == 0)
        c.expectedConnections = 1_000_000
        #expect(LinuxTable.size(c) == max(dflt, 1_000_448))
        let t = linuxTable(buckets: 1024)
        #expect(t.bucketCount == 1024 && t.sweepSlots == 1024 && t.limit.max == 1024)
    }

    /// `__nf_conntrack_confirm`: a chain longer than the insert's random
    /// limit (8 + below 24) refuses it, counting chaintoolong and
    /// insert_failed; no chain grows past 33 nodes.
    @Test func theChainLengthLimit() {
        let t = linuxTable()
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let ids = tuples(in: 7, of: t, count: 45)
        var created = 0
        for (k, id) in ids.enumerated() {
            if t.handlePacket(syn(id), clock: VirtualClock(Int64(k) * sec), &c) == .created { created += 1 }
        }
        #expect(c.stats.chainTooLong >= 45 - 33 && c.stats.chainTooLong == UInt64(45 - created))
        #expect(c.stats.insertFailed == c.stats.chainTooLong)
        // (A reply tuple may land in the same bucket.)
        #expect(t.chainLength(7) >= created && created >= 9 && t.chainLength(7) <= 33, "chain \(t.chainLength(7)), created \(created), \(c.stats.chainTooLong)")
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        #expect(c.locks.violations.isEmpty)
    }

    /// `early_drop`: at the limit, a new connection evicts every unassured
    /// connection of the first bucket (of its own and the next 7) that has
    /// one; assured ones are kept, and with none to drop the packet is.
    @Test func earlyDropEvictsOnlyUnassuredConnections() {
        let t = linuxTable(limit: 2)
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let victim = tuples(in: 30, of: t, count: 1)[0]
        let newcomer = tuples(in: 28, of: t, count: 1)[0]
        let kept = tcpTuple(v4(10, 9, 9, 9), 5555, v4(192, 168, 1, 1), 80)
        // An assured connection: the full handshake.
        _ = t.handlePacket(out(kept, .syn, seq: 1), clock: VirtualClock(0), &c)
        _ = t.handlePacket(inb(kept.reversed, [.syn, .ack], seq: 9, ack: 2), clock: VirtualClock(0), &c)
        _ = t.handlePacket(out(kept, .ack, seq: 2, ack: 10), clock: VirtualClock(0), &c)
        #expect(t.handlePacket(syn(victim), clock: VirtualClock(0), &c) == .created)
        #expect(t.handlePacket(syn(newcomer), clock: VirtualClock(sec), &c) == .created)
        #expect(c.stats.earlyDrop == 1 && c.stats.drop == 0)
        let left = Set(t.exportConnections(now: sec).map(\.original))
        #expect(left == [kept, newcomer])
        // The newcomer is unassured but outside the range of this bucket.
        let far = tuples(in: 400, of: t, count: 1)[0]
        #expect(t.handlePacket(syn(far), clock: VirtualClock(sec), &c) == .notTracked)
        #expect(c.stats.drop == 1)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// Confirmation re-checks both chains under both stripes: a connection
    /// whose original or reply tuple is already there clashes.
    @Test func confirmationFindsAClash() {
        let t = linuxTable()
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let id = tcpTuple(v4(10, 0, 0, 1), 1234, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(syn(id), clock: VirtualClock(0), &c)
        for (o, r, dir) in [(id, id.reversed, 0), (tcpTuple(v4(10, 0, 0, 7), 1, v4(10, 0, 0, 8), 2), id.reversed, 1)] {
            let dup = LinuxConn.make(original: o, reply: r, hook: .output, nat: false, streamAt: 0,
                                     tcp: LinuxTCPConntrack(), lastUsed: 0)
            guard case .clash(let other?, let d) = t.confirm(dup, JenkinsHash.hash(o, seed: t.seed), JenkinsHash.hash(r, seed: t.seed), now: 0, &c) else {
                Issue.record("no clash for \(o)")
                LinuxConn.destroy(dup)
                continue
            }
            #expect(d == dir && other.keys.pointee.original == id)
            other.put()
            LinuxConn.destroy(dup)
        }
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// A SYN on a connection in TIME_WAIT removes it and creates a new one
    /// (`-NF_REPEAT`), in SYN_SENT and unreplied.
    @Test func aSynReopensTimeWait() throws {
        let t = linuxTable()
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let id = tcpTuple(v4(10, 0, 0, 1), 40000, v4(10, 0, 0, 2), 80)
        let clock = VirtualClock(0)
        for p in [out(id, .syn, seq: 1), inb(id.reversed, [.syn, .ack], seq: 9, ack: 2), out(id, .ack, seq: 2, ack: 10),
                  out(id, [.fin, .ack], seq: 2, ack: 10), inb(id.reversed, .ack, seq: 10, ack: 3),
                  inb(id.reversed, [.fin, .ack], seq: 10, ack: 3), out(id, .ack, seq: 3, ack: 11)] {
            _ = t.handlePacket(p, clock: clock, &c)
        }
        var l = try #require(t.exportConnections(now: 0).first.flatMap { LinuxConntrackRecord($0) })
        #expect(l.tcp.state == .timeWait && l.assured && l.expires == 120 * sec)
        #expect(t.handlePacket(out(id, .syn, seq: 5000), clock: VirtualClock(sec), &c) == .created)
        #expect(c.stats.removedInline == 1 && c.stats.created == 2)
        let recs = t.exportConnections(now: sec)
        #expect(recs.count == 1)
        l = try #require(recs.first.flatMap { LinuxConntrackRecord($0) })
        #expect(l.tcp.state == .synSent && !l.seenReply && !l.assured)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// UDP: 30 s until replied; replied and older than 2 s: a stream, 120 s
    /// and ASSURED (`nf_conntrack_udp_packet`).
    @Test func theUDPStreamRule() throws {
        let t = linuxTable()
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let id = TupleID(srcAddr: v4(10, 0, 0, 1), srcPort: 53000, dstAddr: v4(8, 8, 8, 8), dstPort: 53,
                         transProto: .udp, netProto: .ipv4)
        _ = t.handlePacket(Packet(id: id, hook: .output), clock: VirtualClock(0), &c)
        _ = t.handlePacket(Packet(id: id.reversed, hook: .prerouting), clock: VirtualClock(sec), &c)
        var l = try #require(t.exportConnections(now: sec).first.flatMap { LinuxConntrackRecord($0) })
        #expect(l.seenReply && !l.assured && l.expires == 31 * sec)
        _ = t.handlePacket(Packet(id: id, hook: .output), clock: VirtualClock(3 * sec), &c)
        l = try #require(t.exportConnections(now: 3 * sec).first.flatMap { LinuxConntrackRecord($0) })
        #expect(l.assured && l.expires == 123 * sec)
    }

    /// An invalid first segment creates nothing and counts `invalid`.
    @Test func anInvalidFirstSegmentIsNotTracked() {
        let t = linuxTable()
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let id = tcpTuple(v4(10, 0, 0, 1), 1, v4(10, 0, 0, 2), 2)
        #expect(t.handlePacket(out(id, [.fin, .ack], seq: 1), clock: VirtualClock(0), &c) == .notTracked)
        #expect(c.stats.invalid == 1 && t.exportConnections(now: 0).isEmpty)
    }

    /// The injected descending order takes a higher stripe before a lower
    /// one on confirmation: the rank checker reports it.
    @Test func theDescendingLockFaultIsCaughtByTheRankChecker() {
        let t = linuxTable(faults: [.descendingLockOrder])
        var c = WorkerContext(name: "t", checkLockOrder: true)
        var id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        while t.stripeOf(id) == t.stripeOf(id.reversed) { id.srcPort &+= 1 }
        _ = t.handlePacket(syn(id), clock: VirtualClock(0), &c)
        #expect(!c.locks.violations.isEmpty)
    }
}
