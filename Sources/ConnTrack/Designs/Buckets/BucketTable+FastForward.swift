import Sync

// The sweep summary of the bucket table: one leaf per bucket, counting its
// tuples (a self-connection's two tuples both sit in one bucket) with their
// connection's expiry.
extension BucketTable {
    /// Bucket i's leaf. Its locks are taken in a scratch context, so they
    /// count in no run's statistics. Preconditions: the table lock is held.
    func summarise(bucket i: Int, _ scratch: inout WorkerContext) -> SweepSummary.Leaf {
        var leaf = SweepSummary.Leaf.empty
        lockBucket(i, &scratch)
        var t = bucketPtr(i).pointee.head
        while let n = t {
            lockConn(n.pointee.conn, &scratch)
            leaf.add(expiry: timeRemaining(n.pointee.conn, timeouts, now: 0))
            unlockConn(n.pointee.conn, &scratch)
            t = n.pointee.next
        }
        unlockBucket(i, &scratch)
        return leaf
    }

    /// Recounts the `buckets` buckets a pass from `start` walked, so their
    /// minimum expiry is exact again. Preconditions: the table lock is held.
    func recount(start: Int, buckets: Int, into summary: UnsafeMutablePointer<SweepSummary>) {
        var scratch = WorkerContext(name: "sweep-summary", checkLockOrder: false)
        let count = bucketCount
        for i in 0..<min(buckets, count) {
            let b = (start &+ i) % count
            summary.pointee.set(b, summarise(bucket: b, &scratch))
        }
    }

    /// An empty bucket's length is read without its lock: no other thread
    /// uses the table meanwhile (the precondition), and after a long gap
    /// most buckets are empty, so the locks would be most of the cost.
    public func makeSweepSummary() -> SweepSummary {
        var scratch = WorkerContext(name: "sweep-summary", checkLockOrder: false)
        readLock(&scratch)
        defer { unlockTable(&scratch) }
        return SweepSummary(leaves: (0..<bucketCount).map {
            bucketPtr($0).pointee.length == 0 ? .empty : summarise(bucket: $0, &scratch)
        })
    }

    /// A packet changes only the buckets of its own tuple and of its reply
    /// (a lookup, an insert) and of the partner of the connection it
    /// reached (its expiry): those are recounted. What a packet's lookup
    /// removes inline can sit anywhere (the partner's bucket), so the
    /// summary gives up unless the buckets it walked held nothing expired
    /// at its time, as does an early drop at a connection limit.
    public func updateSweepSummary(_ s: inout SweepSummary, after packets: UnsafeBufferPointer<Packet>) {
        guard s.valid, !packets.isEmpty else { return }
        guard s.size == bucketCount, !limit.enabled, !rules.recomputePartnerByReversing else {
            s.valid = false
            return
        }
        // Before any recount: the leaves still describe the table before
        // these packets (their minimum may only be low).
        for p in packets {
            guard s[leaf: bucketIndex(p.id)].noneExpired(at: p.timestamp),
                  s[leaf: bucketIndex(p.replyForNewConnection)].noneExpired(at: p.timestamp) else {
                s.valid = false
                return
            }
        }
        var scratch = WorkerContext(name: "sweep-summary", checkLockOrder: false)
        readLock(&scratch)
        defer { unlockTable(&scratch) }
        for p in packets {
            let b1 = bucketIndex(p.id), b2 = bucketIndex(p.replyForNewConnection)
            lockBucket(b1, &scratch)
            let partner = find(p.id, in: b1).map { bucketIndex($0.partner.pointee.id) }
            unlockBucket(b1, &scratch)
            s.set(b1, summarise(bucket: b1, &scratch))
            if b2 != b1 { s.set(b2, summarise(bucket: b2, &scratch)) }
            if let pb = partner, pb != b1, pb != b2 { s.set(pb, summarise(bucket: pb, &scratch)) }
        }
    }

    /// The walk of `reapPass` when no tuple in the window has expired: it
    /// visits every tuple, removes nothing, never stops early unless the
    /// eviction cap is 0 or less (checked after the first bucket), and
    /// takes the table lock once, a bucket lock per bucket and a connection
    /// lock per tuple.
    public func idlePass(start: Int, maxSlots maxBuckets: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? {
        let count = bucketCount
        // The recompute-nat-partner fault unlinks from the wrong list, which
        // no summary follows: walk every pass.
        guard summary.valid, summary.size == count, !rules.recomputePartnerByReversing else { return nil }
        let walked = maxBuckets <= 0 ? 0 : (maxEvictions <= 0 ? 1 : maxBuckets)
        let w = summary.window(start: start % count, length: walked)
        guard w.noneExpired(at: now) else { return nil }
        ctx.stats.tableLock.acquisitions &+= 1
        ctx.stats.bucketLock.acquisitions &+= UInt64(walked)
        ctx.stats.connLock.acquisitions &+= UInt64(w.count)
        // The walk's last index, as `reapPass` leaves it (0 when it walked none).
        let last = walked > 0 ? (walked - 1 &+ start) % count : 0
        return ReapPassResult(nextStart: last + 1, slotsScanned: walked, checked: w.count,
                              remainingSum: w.remainingSum(at: now), liveChecked: w.count,
                              stoppedEarly: walked < maxBuckets)
    }
}
