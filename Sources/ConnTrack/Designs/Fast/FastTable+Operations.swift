// Operations while packets flow (`--op`).
extension FastTable {
    /// A seqlock walk of the index, as the lookups read it: a home
    /// bucket's chain is read (its connections through their first slots)
    /// between two loads of its version, again while a writer changed it;
    /// then each connection's state is read under its entry lock. No
    /// stripe is taken, so packets never wait for the walk. An entry
    /// removed after its chain was read is not reused before this thread's
    /// next quiescent point (after the bucket), so what is read is a
    /// connection that was live at the read. Preconditions: no resize runs
    /// meanwhile (operations run one at a time, on one thread), so the
    /// index read at the start stays current and mapped.
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        var n = OperationCounts()
        var entries: [UInt32] = []
        entries.reserveCapacity(64)
        let ix = index
        for b in 0..<ix.homeBuckets {
            while true {
                let v0 = ix.word(b, 0).pointee.load(ordering: .acquiring) & 0xFFFF_FFFF
                if v0 & 1 == 1 { n.retries += 1; continue }
                entries.removeAll(keepingCapacity: true)
                forEachFirstSlot(in: ix, home: b) { entries.append($0) }
                let v1 = ix.word(b, 0).pointee.load(ordering: .acquiring) & 0xFFFF_FFFF
                if v1 == v0 { break }
                n.retries += 1
            }
            n.visited += entries.count
            for i in entries {
                let e = pool.entry(i)
                let r = lockedRecord(e, now: now, &ctx)
                if r.timeoutLeft >= 0 {
                    body(r)
                    n.listed += 1
                }
            }
            workerQuiescent(slot)
        }
        return n
    }
}

extension FastTable {
    /// The seqlock walk of the dump; each matching connection is removed
    /// under its homes' stripes, taken in order, if it is still published.
    /// Preconditions: as the dump's.
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        var n = OperationCounts()
        var entries: [UInt32] = []
        entries.reserveCapacity(64)
        let ix = index
        for b in 0..<ix.homeBuckets {
            while true {
                let v0 = ix.word(b, 0).pointee.load(ordering: .acquiring) & 0xFFFF_FFFF
                if v0 & 1 == 1 { n.retries += 1; continue }
                entries.removeAll(keepingCapacity: true)
                forEachFirstSlot(in: ix, home: b) { entries.append($0) }
                let v1 = ix.word(b, 0).pointee.load(ordering: .acquiring) & 0xFFFF_FFFF
                if v1 == v0 { break }
                n.retries += 1
            }
            n.visited += entries.count
            for i in entries where filter.matches(pool.entry(i).original) {
                if remove(i, kind: .operation, now: now, &ctx, if: { _, _ in true }) { n.removed += 1 }
            }
            workerQuiescent(slot)
        }
        return n
    }
}
