/// Outcome of inserting a new connection.

enum InsertOutcome {
    case inserted
    /// The re-check found the original tuple already present: use it.
    case clash(UnsafeMutablePointer<TupleNode>)
    /// The reply tuple belongs to another connection (insert_failed).
    case failed
    /// At the connection limit with nothing to early-drop.
    case dropped
}

extension BucketTable {
    /// Inserts a connection's two tuples (the seed's `createConnFor`),
    /// locking both buckets in ascending order (once when equal).
    /// Preconditions: the table lock is not held; c is not published.

    func insert(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) -> InsertOutcome {
        readLock(&ctx)
        defer { unlockTable(&ctx) }
        let tb = bucketIndex(c.pointee.original.id)
        let rb = bucketIndex(c.pointee.reply.id)
        guard reserveSlot(bucket: tb, now: c.pointee.lastUsed, &ctx) else {
            ctx.stats.drop &+= 1
            return .dropped
        }
        var inserted = false
        // A reserved slot that is not used (clash, insert_failed) is given back.
        defer { if !inserted { limit.release() } }
        let (first, second) = rules.descendingInsertLocks ? (max(tb, rb), min(tb, rb)) : (min(tb, rb), max(tb, rb))
        lockBucket(first, &ctx)
        if second != first { lockBucket(second, &ctx) }
        defer {
            // Unlocking can happen in any order.
            unlockBucket(first, &ctx)
            if second != first { unlockBucket(second, &ctx) }
        }
        if rules.recheckBeforeInsert {
            if let existing = find(c.pointee.original.id, in: tb) {
                ctx.stats.insertClash &+= 1
                return .clash(existing)
            }
            if find(c.pointee.reply.id, in: rb) != nil {
                ctx.stats.insertFailed &+= 1
                return .failed
            }
        }
        pushFront(c.originalPtr, tb)
        pushFront(c.replyPtr, rb)
        ctx.stats.insert &+= 1
        ctx.noteCreated()
        inserted = true
        limit.noteInserted()
        return .inserted
    }

    /// Takes one of the `--max-connections` places before an insert,
    /// early-dropping a connection while the table is full. False: full,
    /// and nothing could be dropped. Preconditions: the table lock is held,
    /// no bucket is.
    func reserveSlot(bucket tb: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        limit.reserve { earlyDrop(from: tb, now: now, &ctx) }
    }

    /// At the limit: removes one connection that is not established from
    /// bucket b or the next few, as Linux's early drop does. Only
    /// connections whose other bucket is not lower are eligible (lock
    /// order). Preconditions: the table lock is held, no bucket is.

    func earlyDrop(from b: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        let n = bucketCount
        for k in 0..<min(config.earlyDropBuckets, n) {
            let i = (b + k) % n
            lockBucket(i, &ctx)
            var t = bucketPtr(i).pointee.head
            while let x = t {
                let c = x.pointee.conn
                lockConn(c, &ctx)
                let established = c.pointee.tcb.state == .alive || c.pointee.udp.replied
                unlockConn(c, &ctx)
                let pb = partnerBucket(x)
                if !established && pb >= i {
                    if pb != i { lockBucket(pb, &ctx) }
                    unlink(x.partner, pb)
                    unlink(x, i)
                    if pb != i { unlockBucket(pb, &ctx) }
                    unlockBucket(i, &ctx)
                    finishRemoval(c, kind: .other, reason: .earlyDrop, now: now, &ctx)
                    ctx.stats.earlyDrop &+= 1
                    return true
                }
                t = x.pointee.next
            }
            unlockBucket(i, &ctx)
        }
        return false
    }
}
