import ConnTrack
import Sync
import Testing
import TestSupport
import struct Synchronization.Atomic

/// Operations on a running table (`--op`), through the design interface:
/// what they must keep true while workers change the table under them.
@Suite struct OperationTests {
    /// The designs that list while running (a plugin has no ABI entry for it).
    static let dumping = stateful.filter { $0.traits.name != ExamplePlugin.entry?.traits.name }

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
                while (!done.load(ordering: .acquiring) || i < 500) && i < 20_000 {
                    let id = k == 0 ? client(before + i) : client(i % before)
                    _ = t.handlePacket(syn(id), clock: VirtualClock(now), &ctx)
                    i += 1
                    if i % 64 == 0 { t.workerQuiescent(slots[k]) }
                }
                if k == 0 { opened.store(i, ordering: .relaxed) }
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
}
