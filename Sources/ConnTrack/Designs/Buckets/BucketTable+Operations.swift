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
