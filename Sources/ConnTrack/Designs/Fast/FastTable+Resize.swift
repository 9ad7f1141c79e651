import Sync

// `--op resize:N` on `fast`: N is the connections to size the index for,
// as `--capacity` sizes it at the start. The new index is built beside the
// old one while every stripe is drained (the all-stripes lock, as `linux`
// takes it for `nf_conntrack_hash_resize`), so no writer changes the old
// index while its slots are copied. Lookups never stop: they read the old
// index, which holds every connection the whole time, until the new one is
// published. A writer that hashed into the old index sees, once it holds
// its stripes, that it was replaced and hashes again (`lockHomes`), and a
// lookup that missed there is searched again under the lock (a clash, not
// a second connection). The old index is unmapped once every worker has
// passed a quiescent point and no reaper walk that could read it is left.
extension FastTable {
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        precondition(slots >= 1, "resize for \(slots) connections")
        var n = OperationCounts()
        var (home, overflow) = Self.size(expected: slots, config)
        // Mapped before the pause, so that the pause is the copy alone.
        var fresh = FastIndex.make(home: home, overflow: overflow)
        lockAll(&ctx)
        // From here a first stripe is taken behind `allLock`; each stripe is
        // taken once and let go, so that whoever held one has finished.
        locksAll.store(true, ordering: .sequentiallyConsistent)
        for i in 0..<stripeCount {
            lockStripePlain(i, &ctx)
            unlockStripe(i, &ctx)
        }
        let oldPointer = current.load(ordering: .relaxed)
        let old = oldPointer.pointee
        // An index too small for the slots there are (N below the
        // connections held) is doubled until they fit.
        while !copySlots(from: old, to: fresh.pointee, &n) {
            FastIndex.destroy(fresh)
            home <<= 1
            overflow = Self.overflowBuckets(home: home)
            fresh = FastIndex.make(home: home, overflow: overflow)
            n.visited = 0
        }
        current.store(fresh, ordering: .sequentiallyConsistent)
        locksAll.store(false, ordering: .releasing)
        // With recycling off (an injected fault) nothing is unmapped before
        // the table, as no entry is recycled.
        if !reclaimer.enabled { keptIndexes.append(oldPointer) }
        unlockAll(&ctx)
        if reclaimer.enabled {
            waitForReaders(slot: slot)
            FastIndex.destroy(oldPointer)
        }
        n.slotsBefore = old.homeBuckets
        n.slotsAfter = home
        return n
    }

    /// Puts a copy of every slot of `old` into `fresh` (not published), in
    /// the chain of its home bucket there; a slot's value (tag, kind,
    /// entry) does not depend on the index. False when `fresh` runs out of
    /// overflow buckets. Preconditions: every stripe is drained behind
    /// `allLock`, so nothing writes `old`.
    func copySlots(from old: FastIndex, to fresh: FastIndex, _ n: inout OperationCounts) -> Bool {
        for b in 0..<old.homeBuckets {
            var bucket = b
            while true {
                for k in 1...Self.slotsPerBucket {
                    let s = old.word(bucket, k).pointee.load(ordering: .acquiring)
                    guard s != 0 else { continue }
                    let e = pool.entry(Self.entryIndex(s))
                    let h = hash(Self.kind(s) == .reply ? e.reply : e.original)
                    guard let (fb, fk) = freeSlot(in: fresh, home: fresh.home(h)) else { return false }
                    fresh.word(fb, fk).pointee.store(s, ordering: .relaxed)
                    n.visited += 1
                }
                let link = old.word(bucket, 0).pointee.load(ordering: .relaxed) &>> 32
                if link == 0 { break }
                bucket = Int(truncatingIfNeeded: link) &- 1
            }
        }
        return true
    }

    /// Returns once every registered thread has passed a quiescent point
    /// since this call and no reaper walk is running: none can still be on
    /// an index replaced before it. Preconditions: the caller, registered
    /// in `slot`, holds nothing of the table.
    func waitForReaders(slot: Int) {
        reclaimer.epochs.synchronize(slot: slot) { _ in walkers.load(ordering: .sequentiallyConsistent) == 0 }
    }
}
