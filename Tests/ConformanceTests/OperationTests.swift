import ConnTrack
import Sync
import Testing
import TestSupport
import struct Synchronization.Atomic

/// Operations on a running table (`--op`), through the design interface:
/// what they must keep true while workers change the table under them.
@Suite struct OperationTests {
    /// The designs that list while running (the example plugin included:
    /// it has the ABI 3 entries).
    static let dumping = stateful.filter { $0.traits.operatesWhileRunning }

    /// A dump while two workers run lists every connection that was live
    /// for the whole dump exactly once, and nothing that never existed:
    /// 3,000 connections first, then one worker opens more while the other
    /// refreshes the first ones, until the dump ends (nothing is removed:
    /// no reaper runs and nothing expires).
    @Test(arguments: dumping)
    func aDumpWhileRunningListsEveryLiveConnectionOnce(_ e: DesignEntry) throws {
        // Enough buckets that no chain limit (linux's) refuses an insert.
        let t = makeTable(e, slots: 8192)
        let now = 2 * sec
        let setup = t.registerWorker()
        var c = context()
        let before = 3000
        for i in 0..<before { _ = t.handlePacket(syn(client(i)), clock: VirtualClock(sec), &c) }
        t.workerOffline(setup)
        let a = Set(t.exportConnections(now: now).map(\.original))
        #expect(a.count == before)
        let fresh = 4000
        let dumpSlot = t.registerWorker()
        let slots = (0..<2).map { _ in t.registerWorker() }
        for s in slots { t.workerOffline(s) }
        let go = Atomic<Bool>(false), done = Atomic<Bool>(false)
        let opened = Atomic<Int>(0)
        let workers = (0..<2).map { k in
            OSThread {
                var ctx = context()
                t.workerQuiescent(slots[k])
                while !go.load(ordering: .acquiring) {}
                var i = 0
                // At least 500 packets each, and on until the dump ended.
                // Worker 0 opens at most `fresh` connections, then refreshes
                // them: linux's limit is its bucket count (8,192), and a
                // full table would drop or evict, which this test does not
                // count (a slow dump on a busy machine got there).
                while (!done.load(ordering: .acquiring) || i < 500) && i < 20_000 {
                    let id = k == 0 ? client(before + i % fresh) : client(i % before)
                    _ = t.handlePacket(syn(id), clock: VirtualClock(now), &ctx)
                    i += 1
                    if i % 64 == 0 { t.workerQuiescent(slots[k]) }
                }
                if k == 0 { opened.store(min(i, fresh), ordering: .relaxed) }
                t.workerOffline(slots[k])
                #expect(ctx.locks.violations.isEmpty, "\(ctx.locks.violations)")
            }
        }
        var d = context()
        go.store(true, ordering: .releasing)
        t.workerQuiescent(dumpSlot)
        var listed: [TupleID] = []
        let n = t.dumpWhileRunning(now: now, slot: dumpSlot, &d) { listed.append($0.original) }
        t.workerOffline(dumpSlot)
        done.store(true, ordering: .releasing)
        for w in workers { w.join() }
        let counts = try #require(n, "\(e.traits.name) cannot dump while running")
        let once = Set(listed)
        #expect(once.count == listed.count, "\(listed.count - once.count) connections listed twice")
        #expect(a.subtracting(once).isEmpty, "\(a.subtracting(once).count) connections live throughout were not listed")
        let b = Set(t.exportConnections(now: now).map(\.original))
        #expect(b.count == before + opened.load(ordering: .relaxed), "\(b.count) connections at the end")
        #expect(once.subtracting(b).isEmpty, "\(once.subtracting(b).count) listed connections the table never held")
        #expect(counts.listed == listed.count && counts.visited >= counts.listed)
        #expect(d.locks.violations.isEmpty, "\(d.locks.violations)")
        let inv = t._checkInvariants(uniqueIDs: nil)
        #expect(inv.ok, "\(inv)")
    }

    /// A flush while two workers open new connections removes every
    /// connection that was there before it started, and the table stays
    /// sound; a delete removes exactly what its filter matches of those.
    @Test(arguments: dumping)
    func aFlushWhileRunningRemovesEveryConnectionFromBefore(_ e: DesignEntry) throws {
        try Self.removeWhileRunning(e, filter: ConnectionFilter())
    }

    @Test(arguments: dumping)
    func aDeleteWhileRunningRemovesWhatItMatches(_ e: DesignEntry) throws {
        var f = ConnectionFilter()
        // client(i)'s source port is 20000 + i: the first 1,000 of 3,000.
        f.sport = 20_000...20_999
        try Self.removeWhileRunning(e, filter: f)
    }

    static func removeWhileRunning(_ e: DesignEntry, filter: ConnectionFilter) throws {
        let t = makeTable(e, slots: 8192)
        let now = 2 * sec
        let setup = t.registerWorker()
        var c = context()
        let before = 3000
        for i in 0..<before { _ = t.handlePacket(syn(client(i)), clock: VirtualClock(sec), &c) }
        t.workerOffline(setup)
        let a = Set(t.exportConnections(now: now).map(\.original))
        let doomed = a.filter { filter.matches($0) }
        #expect(a.count == before && !doomed.isEmpty)
        let opSlot = t.registerWorker()
        let slots = (0..<2).map { _ in t.registerWorker() }
        for s in slots { t.workerOffline(s) }
        let go = Atomic<Bool>(false), done = Atomic<Bool>(false)
        let opened0 = Atomic<Int>(0), opened1 = Atomic<Int>(0)
        let workers = (0..<2).map { k in
            OSThread {
                var ctx = context()
                t.workerQuiescent(slots[k])
                while !go.load(ordering: .acquiring) {}
                var i = 0
                // New tuples only (none of the first 3,000 is touched again),
                // at most 2,500 each: 3,000 + 5,000 stays under linux's limit
                // of 8,192, so nothing is dropped or evicted uncounted (a
                // slow flush on a busy machine once let 8,140 in).
                while (!done.load(ordering: .acquiring) || i < 300) && i < 2500 {
                    _ = t.handlePacket(syn(client(before + 2 * i + k)), clock: VirtualClock(now), &ctx)
                    i += 1
                    if i % 64 == 0 { t.workerQuiescent(slots[k]) }
                }
                if k == 0 { opened0.store(i, ordering: .relaxed) } else { opened1.store(i, ordering: .relaxed) }
                t.workerOffline(slots[k])
                #expect(ctx.locks.violations.isEmpty, "\(ctx.locks.violations)")
            }
        }
        var d = context()
        go.store(true, ordering: .releasing)
        t.workerQuiescent(opSlot)
        let n = t.removeWhileRunning(filter, now: now, slot: opSlot, &d)
        t.workerOffline(opSlot)
        done.store(true, ordering: .releasing)
        for w in workers { w.join() }
        let counts = try #require(n, "\(e.traits.name) cannot remove while running")
        let b = Set(t.exportConnections(now: now).map(\.original))
        #expect(doomed.intersection(b).isEmpty, "\(doomed.intersection(b).count) connections from before survived")
        #expect(a.subtracting(doomed).subtracting(b).isEmpty, "\(a.subtracting(doomed).subtracting(b).count) unmatched connections were removed")
        let new = opened0.load(ordering: .relaxed) + opened1.load(ordering: .relaxed)
        #expect(counts.removed >= doomed.count && counts.removed <= doomed.count + new)
        #expect(b.count == before + new - counts.removed, "\(b.count) at the end, \(counts.removed) removed")
        #expect(Int(d.stats.removedByOperation) == counts.removed)
        #expect(d.locks.violations.isEmpty, "\(d.locks.violations)")
        let inv = t._checkInvariants(uniqueIDs: nil)
        #expect(inv.ok, "\(inv)")
    }

    /// The designs that rehash while running, each grown and shrunk.
    static let resizing = stateful.filter { $0.traits.resizesWhileRunning }.flatMap { e in [(e, 65_536), (e, 1_000)] }

    /// A resize while one worker refreshes the 3,000 connections from
    /// before it and another opens new ones loses and duplicates nothing:
    /// every packet of the first finds its connection (none is created
    /// again), the table holds each connection once at the end, at the new
    /// size, and its invariants hold.
    @Test(arguments: resizing)
    func aResizeWhileRunningLosesAndDuplicatesNothing(_ e: DesignEntry, to size: Int) throws {
        let t = makeTable(e, slots: 8192)
        let now = 2 * sec
        let setup = t.registerWorker()
        var c = context()
        let before = 3000
        for i in 0..<before { _ = t.handlePacket(syn(client(i)), clock: VirtualClock(sec), &c) }
        t.workerOffline(setup)
        let a = Set(t.exportConnections(now: now).map(\.original))
        #expect(a.count == before)
        let opSlot = t.registerWorker()
        let slots = (0..<2).map { _ in t.registerWorker() }
        for s in slots { t.workerOffline(s) }
        let go = Atomic<Bool>(false), done = Atomic<Bool>(false)
        let opened = Atomic<Int>(0), recreated = Atomic<Int>(0)
        let workers = (0..<2).map { k in
            OSThread {
                var ctx = context()
                t.workerQuiescent(slots[k])
                while !go.load(ordering: .acquiring) {}
                var i = 0, created = 0
                // Worker 1 opens at most 2,500 (a small table may refuse
                // some: linux's chain limit); worker 0 refreshes the first
                // 3,000, and must create none.
                while (!done.load(ordering: .acquiring) || i < 300) && i < 2500 {
                    let id = k == 0 ? client(i % before) : client(before + i)
                    if t.handlePacket(syn(id), clock: VirtualClock(now), &ctx) == .created { created += 1 }
                    i += 1
                    if i % 64 == 0 { t.workerQuiescent(slots[k]) }
                }
                if k == 1 { opened.store(created, ordering: .relaxed) } else { recreated.store(created, ordering: .relaxed) }
                t.workerOffline(slots[k])
                #expect(ctx.locks.violations.isEmpty, "\(ctx.locks.violations)")
            }
        }
        var d = context()
        go.store(true, ordering: .releasing)
        t.workerQuiescent(opSlot)
        let n = t.resizeWhileRunning(to: size, now: now, slot: opSlot, &d)
        t.workerOffline(opSlot)
        done.store(true, ordering: .releasing)
        for w in workers { w.join() }
        let counts = try #require(n, "\(e.traits.name) cannot resize while running")
        #expect(recreated.load(ordering: .relaxed) == 0, "connections from before were created again during the resize")
        let listed = t.exportConnections(now: now).map(\.original)
        let b = Set(listed)
        #expect(b.count == listed.count, "\(listed.count - b.count) connections twice")
        #expect(a.subtracting(b).isEmpty, "\(a.subtracting(b).count) connections from before lost")
        #expect(b.count == before + opened.load(ordering: .relaxed), "\(b.count) connections at the end")
        // fast's index holds one slot for a connection whose reply is its
        // reversed original (every one here); the others hold both tuples.
        let perConnection = e.traits.name == "fast" ? 1 : 2
        #expect(counts.visited >= perConnection * before && counts.visited <= perConnection * b.count,
                "rehashed \(counts.visited) entries")
        // linux rounds up to a page of heads (512).
        if e.traits.sizedByBuckets { #expect(t.sweepSlots == counts.slotsAfter && (size...size + 511).contains(t.sweepSlots)) }
        // fast sizes for N connections at 4 a home bucket (a power of two),
        // and keeps at least one home bucket per reaper slice (8,192 here).
        if e.traits.name == "fast" { #expect(counts.slotsAfter == (size == 65_536 ? 16_384 : 8_192), "\(counts)") }
        #expect(d.locks.violations.isEmpty, "\(d.locks.violations)")
        let inv = t._checkInvariants(uniqueIDs: nil)
        #expect(inv.ok, "\(inv)")
    }
}
