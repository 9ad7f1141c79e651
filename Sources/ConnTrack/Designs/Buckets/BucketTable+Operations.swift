// Operations while packets flow (`--op`).
extension BucketTable {
    /// Bucket by bucket, each under the table's read lock and its own
    /// lock, as the packet path takes them: a connection's tuples cannot
    /// be unlinked from a bucket while its lock is held, so each one is
    /// listed once, at its original tuple. Between buckets the walk holds
    /// nothing, so a writer (the reaper's pass) waits at most one bucket.
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        var n = OperationCounts()
        var b = 0
        while true {
            readLock(&ctx)
            guard b < bucketCount else { unlockTable(&ctx); break }
            lockBucket(b, &ctx)
            var t = bucketPtr(b).pointee.head
            while let x = t {
                n.visited += 1
                if x.pointee.direction == .original {
                    let c = x.pointee.conn
                    lockConn(c, &ctx)
                    let r = c.record(timeouts, now: now)
                    unlockConn(c, &ctx)
                    body(r)
                    n.listed += 1
                }
                t = x.pointee.next
            }
            unlockBucket(b, &ctx)
            unlockTable(&ctx)
            b += 1
        }
        return n
    }
}

extension BucketTable {
    /// Bucket by bucket under the table's read lock and the bucket's lock;
    /// a matching connection is removed at the lower of its two buckets,
    /// with the partner's bucket locked after it (ascending, as the lock
    /// order says), so it is met once with both locks takeable.
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        var n = OperationCounts()
        var b = 0
        while true {
            readLock(&ctx)
            guard b < bucketCount else { unlockTable(&ctx); break }
            lockBucket(b, &ctx)
            var t = bucketPtr(b).pointee.head
            while let x = t {
                n.visited += 1
                let next = x.pointee.next
                let afterNext = next?.pointee.next
                let original = x.pointee.direction == .original ? x : x.partner
                let rb = partnerBucket(x)
                guard rb >= b, filter.matches(original.pointee.id) else { t = next; continue }
                let different = rb != b
                let lockPartner = different && !rules.skipPartnerBucketLock
                if lockPartner { lockBucket(rb, &ctx) }
                unlink(x.partner, rb)
                unlink(x, b)
                if lockPartner { unlockBucket(rb, &ctx) }
                finishRemoval(x.pointee.conn, kind: .operation, now: now, &ctx)
                n.removed += 1
                t = next == x.partner ? afterNext : next
            }
            unlockBucket(b, &ctx)
            unlockTable(&ctx)
            b += 1
        }
        return n
    }
}
