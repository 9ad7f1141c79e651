import Sync

// `--op resize:N` while packets flow. gVisor's table lock exists for this:
// "Only take the write lock if you are modifying the slice" (the seed's
// `ConnTrack.mu`). The packet path, the reaper and every other operation
// read-lock it, so the rehash is one stop of the whole table, as long as
// the move takes; the new array is built before the lock and the old one
// freed after it, so only the move is in the pause.
extension BucketTable {
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        precondition(slots >= 1, "resize to \(slots) buckets")
        var n = OperationCounts()
        let fresh = Self.makeBuckets(slots)
        writeLock(&ctx)
        let old = array.pointee
        array.pointee = BucketArray(base: fresh, count: slots)
        // Each old list from its tail: push-front keeps the order of the
        // entries that share a new bucket and came from one old list, so
        // tuples with the same id (the seed2020 defect keeps such) stay in
        // their order and its first-match lookup finds what it found.
        for b in 0..<old.count {
            var tail = old.base[b].head
            while let t = tail, let next = t.pointee.next { tail = next }
            while let t = tail {
                tail = t.pointee.prev
                // `bucketIndex` hashes onto the array just installed.
                pushFront(t, bucketIndex(t.pointee.id))
                n.visited += 1
            }
            old.base[b].head = nil
            old.base[b].length = 0
        }
        publishedCount.store(slots, ordering: .relaxed)
        unlockTable(&ctx)
        // Nothing reaches the old array now: every access to a bucket is
        // under the table lock.
        for b in 0..<old.count { PThread.destroyMutex((old.base + b).pointer(to: \.mutex)!) }
        old.base.deinitialize(count: old.count)
        old.base.deallocate()
        n.slotsBefore = old.count
        n.slotsAfter = slots
        return n
    }
}
