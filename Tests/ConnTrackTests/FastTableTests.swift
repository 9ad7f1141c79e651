@testable import ConnTrack
import Sync
import Testing
import struct Synchronization.Atomic
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

// What the `fast` design promises beyond the shared conformance suite: its
// layout, lock-free lookups that restart when a writer is in the bucket,
// the lock order, the locks a packet takes, recycling after a grace
// period, and an honest "table full".

func makeFast(capacity: Int? = 4096, slices: Int = 64, faults: Set<Fault> = [], limit: Int? = nil) -> FastTable {
    var c = TableConfig(buckets: slices, hashSeed: 0xFA57, faults: faults, maxConnections: limit)
    c.expectedConnections = capacity
    return FastTable(c)
}

func udpTuple(_ i: Int) -> TupleID {
    TupleID(srcAddr: v4(10, 1, UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)), srcPort: 5353,
            dstAddr: v4(8, 8, 8, 8), dstPort: 53, transProto: .udp, netProto: .ipv4)
}

@Suite struct FastTableTests {
    @Test(.oneThread) func anEntryIs96BytesAndABucketOneCacheLine() {
        #expect(EntryLayout.wide.stride == 96 && EntryLayout.compact.stride == 72)
        #expect(MemoryLayout<TCB>.size == 36, "the tracker's flags share one byte")
        #expect(EntryPool.segmentBytes == 2 << 20, "a segment is one 2 MiB huge page")
        let t = makeFast()
        #expect(UInt(bitPattern: t.index.words) % 64 == 0, "buckets start on a cache line")
        #expect(t.pool.segmentEntries * t.pool.stride + 8 <= EntryPool.segmentBytes,
                "the NAT side table's address fits in the segment's tail")
        #expect(t.pool.stride == 96 && t.pool.segmentEntries == 21_845)
        var c = ctx()
        _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80), .syn, seq: 1), clock: VirtualClock(0), &c)
        let e = t.pool.entry(0)
        #expect(t.pool.entryOffset == 56 && UnsafeRawPointer(e.lastUsedWord) - UnsafeRawPointer(e) == -16,
                "a lookup reads bytes 0–55 of the slot only")
    }

    /// A non-NAT connection takes one symmetric slot found from both
    /// directions; a NAT connection takes two.
    @Test(.oneThread) func slotsPerConnection() {
        let t = makeFast()
        var c = ctx()
        let id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(0), &c)
        #expect(t.inspect().slotLengths.reduce(0, +) == 1)
        #expect(t.lookup(id.reversed, now: 0)?.1 == .reply)
        #expect(t.lookup(id, now: 0)?.1 == .original)
        let nat = tcpTuple(v4(10, 0, 0, 3), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(nat, .syn, seq: 1, nat: (v4(172, 16, 0, 1), 8080)), clock: VirtualClock(0), &c)
        #expect(t.inspect().slotLengths.reduce(0, +) == 3)
        let reply = nat.redirectedReply(to: v4(172, 16, 0, 1), port: 8080)
        #expect(t.lookup(reply, now: 0)?.1 == .reply)
        #expect(t.lookup(nat.reversed, now: 0) == nil, "a NAT connection is not found by its reversed original")
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// A NAT redirect address lives in its segment's side table, mapped by
    /// the first NAT connection only; the reply it gives is the packet's.
    @Test(.oneThread) func natAddressesLiveInASideTableMappedOnDemand() {
        let t = makeFast()
        var c = ctx()
        for i in 0..<100 {
            _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), UInt16(1000 + i), v4(10, 0, 0, 2), 80), .syn, seq: 1),
                               clock: VirtualClock(0), &c)
        }
        let plain = t.inspect().mappedBytes
        #expect(t.pool.natSides == 0)
        for i in 0..<100 {
            let id = tcpTuple(v4(10, 0, 1, 1), UInt16(1000 + i), v4(10, 0, 0, 2), 80)
            _ = t.handlePacket(out(id, .syn, seq: 1, nat: (v4(172, 16, 0, UInt8(i)), UInt16(8000 + i))), clock: VirtualClock(0), &c)
        }
        #expect(t.pool.natSides == 1)
        #expect(t.inspect().mappedBytes > plain)
        for i in 0..<100 {
            let id = tcpTuple(v4(10, 0, 1, 1), UInt16(1000 + i), v4(10, 0, 0, 2), 80)
            let reply = id.redirectedReply(to: v4(172, 16, 0, UInt8(i)), port: UInt16(8000 + i))
            #expect(t.lookup(reply, now: 0)?.0.reply == reply)
        }
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// `--ipv4-only`: 72-byte compact slots that give back every IPv4
    /// tuple (NAT included), IPv6 packets counted as drops, an export that
    /// imports into another compact table as the same connections, and a
    /// refusal by every other design.
    @Test(.oneThread) func ipv4OnlyKeepsIPv4TuplesCompactAndDropsIPv6() throws {
        var cfg = TableConfig(buckets: 64, hashSeed: 0xFA57)
        cfg.expectedConnections = 4096
        cfg.ipv4Only = true
        let t = FastTable(cfg)
        #expect(t.pool.stride == 72 && t.pool.segmentEntries == 29_127)
        var c = ctx()
        var ids: [TupleID] = []
        for i in 0..<3000 {
            let id = TupleID(srcAddr: v4(10, UInt8(i % 7), UInt8(i >> 8), UInt8(truncatingIfNeeded: i)), srcPort: UInt16(1024 + i),
                             dstAddr: v4(192, 168, 0, 1), dstPort: 443, transProto: i % 3 == 0 ? .udp : .tcp, netProto: .ipv4)
            ids.append(id)
            let p = id.transProto == .udp
                ? Packet(id: id, hook: .output, nat: i % 5 == 0 ? (v4(172, 16, 0, 9), 9000) : nil)
                : out(id, .syn, seq: UInt32(i), nat: i % 5 == 0 ? (v4(172, 16, 0, 9), 9000) : nil)
            _ = t.handlePacket(p, clock: VirtualClock(0), &c)
        }
        #expect(c.stats.created == 3000 && c.stats.drop == 0)
        for (i, id) in ids.enumerated() {
            let r = try #require(t.lookup(id, now: 0))
            #expect(r.0.original == id && r.1 == .original)
            if i % 5 == 0 { #expect(r.0.reply == id.redirectedReply(to: v4(172, 16, 0, 9), port: 9000)) }
        }
        let six = TupleID(srcAddr: IPAddress(hi: 0x2001_0db8_0000_0000, lo: 1), srcPort: 1000,
                          dstAddr: IPAddress(hi: 0x2001_0db8_0000_0000, lo: 2), dstPort: 80, transProto: .tcp, netProto: .ipv6)
        #expect(t.handlePacket(out(six, .syn, seq: 1), clock: VirtualClock(0), &c) == .notTracked)
        #expect(c.stats.drop == 1 && c.stats.created == 3000)
        #expect(t._checkInvariants(uniqueIDs: true).ok)

        var records: [ConnectionRecord] = []
        t.forEachConnection(now: 0) { records.append($0) }
        let u = FastTable(cfg)
        var c2 = ctx()
        try u.importConnections(records, &c2)
        var again: [ConnectionRecord] = []
        u.forEachConnection(now: 0) { again.append($0) }
        #expect(again == records)
        let v = FastTable(cfg)
        #expect(throws: ImportError.self) {
            try v.importConnections([ConnectionRecord(original: six, reply: six.reversed, hook: .output, nat: false, tcb: TCB(),
                                                      udp: UDPState(), lastUsed: 0, timeoutLeft: 0)], &c2)
        }
        #expect(throws: ConfigError.self) { try cfg.validate(for: BucketTable.traits) }
        #expect(throws: Never.self) { try cfg.validate(for: FastTable.traits) }
    }

    /// A lookup that meets an odd version (a writer in the bucket) must
    /// start again, and finds the connection once the writer is out: one
    /// attempt at a time, on one thread, so no timing decides it.
    @Test(.oneThread) func aLookupRestartsWhileAWriterIsInTheBucket() {
        let t = makeFast()
        var c = ctx()
        let id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(0), &c)
        let ix = t.index, h = t.hash(id), b = ix.home(h)
        var rc = WorkerContext(name: "reader", checkLockOrder: true)
        t.lockStripe(t.stripe(ofHome: b), &c)
        t.beginWrite(b, in: ix)
        #expect(t.findOnce(id, in: ix, home: b, tag: FastTable.tag(h), &rc) == nil)
        t.endWrite(b, in: ix)
        t.unlockStripe(t.stripe(ofHome: b), &c)
        let found = t.findOnce(id, in: ix, home: b, tag: FastTable.tag(h), &rc)
        #expect(found?.0 != nil)
        // And `find` goes on to the hit, counting what it restarted.
        let (hit, _) = t.find(id, hash: h, in: ix, &rc)
        #expect(hit != nil && rc.stats.searchRestart == 0)
        #expect(c.locks.violations.isEmpty)
    }

    /// A reader running while a writer holds the bucket odd gets the
    /// connection when the writer is done (whether it met the odd version
    /// depends on scheduling: that is the test above's; this one races the
    /// two under ThreadSanitizer).
    @Test func aReaderDuringAWriteFindsTheConnection() {
        let t = makeFast()
        var c = ctx()
        let id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(0), &c)
        let ix = t.index, b = ix.home(t.hash(id))
        final class Box: @unchecked Sendable {
            let started = Atomic<Int>(0)
            var found = false
        }
        let box = Box()
        t.lockStripe(t.stripe(ofHome: b), &c)
        t.beginWrite(b, in: ix)
        let reader = OSThread {
            var rc = WorkerContext(name: "reader", checkLockOrder: true)
            box.started.store(1, ordering: .releasing)
            box.found = t.find(id, hash: t.hash(id), in: ix, &rc).0 != nil
        }
        while box.started.load(ordering: .acquiring) == 0 { usleepMillis(1) }
        t.endWrite(b, in: ix)
        t.unlockStripe(t.stripe(ofHome: b), &c)
        reader.join()
        #expect(box.found)
        #expect(c.locks.violations.isEmpty)
    }

    /// Writers lock stripes in ascending order; the injected fault takes
    /// the higher first and the rank checker reports it.
    @Test(.oneThread) func descendingLockOrderIsCaughtByTheRankChecker() {
        let t = makeFast(faults: [.descendingLockOrder])
        var c = ctx()
        var port: UInt16 = 1
        let id = { (p: UInt16) in tcpTuple(v4(10, 0, 0, 1), p, v4(10, 0, 0, 2), 80) }
        let target = (v4(172, 16, 0, 9), UInt16(9999))
        // A NAT connection whose two slots fall under different stripes.
        while t.stripeOf(id(port)) == t.stripeOf(id(port).redirectedReply(to: target.0, port: target.1)) {
            port += 1
        }
        _ = t.handlePacket(out(id(port), .syn, seq: 1, nat: target), clock: VirtualClock(0), &c)
        #expect(c.locks.violations.count == 1)
        guard let v = c.locks.violations.first, case .bucket(let lo) = v.acquiring, case .bucket(let hi) = v.held else {
            Issue.record("expected two stripes: \(c.locks.violations)"); return
        }
        #expect(lo < hi)
        #expect(v.acquiringSite.contains("FastTable"))
    }

    /// No table lock at all; UDP in its steady state takes no lock; TCP
    /// takes the entry lock once per segment; a new connection takes its
    /// stripe once.
    @Test(.oneThread) func theLocksAPacketTakes() {
        let t = makeFast()
        var c = ctx()
        let u = udpTuple(1)
        _ = t.handlePacket(Packet(id: u, hook: .output), clock: VirtualClock(0), &c)
        #expect(c.stats.bucketLock.acquisitions == 1 && c.stats.connLock.acquisitions == 0)
        _ = t.handlePacket(Packet(id: u.reversed, hook: .prerouting), clock: VirtualClock(sec), &c)
        #expect(c.stats.connLock.acquisitions == 1, "the first reply changes the state: locked")
        let before = c.stats
        for k in 0..<10 { _ = t.handlePacket(Packet(id: k % 2 == 0 ? u : u.reversed, hook: k % 2 == 0 ? .output : .prerouting),
                                              clock: VirtualClock(2 * sec), &c) }
        #expect(c.stats.connLock.acquisitions == before.connLock.acquisitions, "steady UDP takes no lock")
        #expect(c.stats.bucketLock.acquisitions == before.bucketLock.acquisitions)
        let id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(id, .syn, seq: 1000), clock: VirtualClock(0), &c)
        let b2 = c.stats
        _ = t.handlePacket(inb(id.reversed, [.syn, .ack], seq: 5000, ack: 1001), clock: VirtualClock(0), &c)
        _ = t.handlePacket(out(id, .ack, seq: 1001, ack: 5001), clock: VirtualClock(0), &c)
        #expect(c.stats.connLock.acquisitions - b2.connLock.acquisitions == 2)
        #expect(c.stats.bucketLock.acquisitions == b2.bucketLock.acquisitions)
        #expect(c.stats.tableLock.acquisitions == 0)
        #expect(c.locks.violations.isEmpty)
    }

    /// A removed entry is recycled only after every registered worker has
    /// passed a quiescent point; new connections then reuse it instead of
    /// growing the pool.
    @Test(.oneThread) func entriesAreRecycledAfterAGracePeriod() {
        let t = makeFast()
        var c = ctx()
        let slot = t.registerWorker()
        for i in 0..<100 { _ = t.handlePacket(Packet(id: udpTuple(i), hook: .output), clock: VirtualClock(0), &c) }
        let handedOut = t.pool.counts().handedOut
        let r = t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: 31 * sec, &c)
        #expect(r.removed == 100)
        t.reclaim(&c)
        #expect(t.pool.counts().free == 0, "the worker has not passed a quiescent point yet")
        t.workerQuiescent(slot)
        t.reclaim(&c)
        #expect(t.pool.counts().free == 100)
        for i in 200..<300 { _ = t.handlePacket(Packet(id: udpTuple(i), hook: .output), clock: VirtualClock(40 * sec), &c) }
        #expect(t.pool.counts().handedOut == handedOut, "reused, not grown")
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        #expect(c.locks.violations.isEmpty)
    }

    /// An index sized far below its load fills its overflow area; further
    /// connections are dropped and counted, and the table stays whole.
    @Test(.oneThread) func aFullIndexDropsAndCountsIt() {
        let t = makeFast(capacity: 1, slices: 1)
        var c = ctx()
        for i in 0..<3000 { _ = t.handlePacket(Packet(id: udpTuple(i), hook: .output), clock: VirtualClock(0), &c) }
        let f = t.layoutFigures
        #expect(f.overflowUsed == f.overflowCapacity)
        #expect(c.stats.drop > 0 && c.stats.created + c.stats.drop == 3000)
        let inv = t._checkInvariants(uniqueIDs: nil)
        #expect(inv.ok && inv.connections == Int(c.stats.created), "\(inv)")
    }

    /// A resize for fewer connections than the table holds: at N the new
    /// index cannot take every slot, so it is doubled until it can, and no
    /// connection is lost. (One thread: the retry depends on no timing.)
    @Test(.oneThread) func aResizeBelowTheConnectionsHeldDoublesUntilTheyFit() throws {
        let t = makeFast(capacity: 16_384, slices: 64)
        var c = ctx()
        let ids = (0..<10_000).map { i in tcpTuple(v4(10, 2, UInt8(i >> 8), UInt8(truncatingIfNeeded: i)), 1000, v4(10, 0, 0, 2), 80) }
        for id in ids { _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(0), &c) }
        let slot = t.registerWorker()
        // An index for 1 connection is 64 home buckets here, 2,688 slots.
        let n = try #require(t.resizeWhileRunning(to: 1, now: 0, slot: slot, &c))
        t.workerOffline(slot)
        #expect(n.visited == ids.count && n.slotsBefore == 4096, "\(n)")
        let after = try #require(n.slotsAfter)
        #expect(after > 64 && after & (after - 1) == 0 && t.index.homeBuckets == after, "\(n)")
        #expect(ids.allSatisfy { t.lookup($0, now: 0) != nil })
        let inv = t._checkInvariants(uniqueIDs: nil)
        #expect(inv.ok && inv.connections == ids.count, "\(inv)")
        #expect(c.locks.violations.isEmpty)
    }

    /// An import the index cannot hold throws, names the record, and
    /// leaves the table empty.
    @Test(.oneThread) func anImportThatDoesNotFitInsertsNothing() {
        let t = makeFast(capacity: 1, slices: 1)
        var c = ctx()
        let records = (0..<3000).map { i in
            ConnectionRecord(original: udpTuple(i), reply: udpTuple(i).reversed, hook: .output, nat: false, tcb: TCB(),
                             udp: UDPState(), lastUsed: 0, timeoutLeft: 0)
        }
        do {
            try t.importConnections(records, &c)
            Issue.record("an import of 3000 connections into an index of 2688 slots succeeded")
        } catch {
            #expect(error.reason.contains("full") && error.record > 0)
        }
        #expect(t.inspect().connections == 0)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
        #expect(c.locks.violations.isEmpty)
    }
}

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: 0, tv_nsec: ms * 1_000_000)
    nanosleep(&ts, nil)
}
