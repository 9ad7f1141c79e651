extension BucketTable {
    /// Walks bucket b for `id`, reaping expired connections on the way (the
    /// seed's `connFor`). Preconditions: the table lock is held; bucket b
    /// is not.

    func connFor(_ id: TupleID, bucket b: Int, now: Int64, _ ctx: inout WorkerContext) -> UnsafeMutablePointer<TupleNode>? {
        ctx.stats.lookups &+= 1
        lockBucket(b, &ctx)
        var walked = 0
        var t = bucketPtr(b).pointee.head
        var found: UnsafeMutablePointer<TupleNode>? = nil
        while let n = t {
            walked &+= 1
            let next = n.pointee.next
            let afterNext = next?.pointee.next
            var rem: Int64 = 0
            let o = reapTupleLocked(n, b, now: now, kind: .inline, remainingOut: &rem, &ctx)
            if o != .alive {
                // The seed `continue`s: an expired tuple never matches.
                t = advance(from: n, outcome: o, next: next, afterNext: afterNext)
                continue
            }
            if n.pointee.id == id { found = n; break }
            t = n.pointee.next
        }
        unlockBucket(b, &ctx)
        ctx.stats.chain.record(walked)
        if found != nil { ctx.stats.found &+= 1 } else { ctx.stats.notFound &+= 1 }
        return found
    }

    /// Looks a tuple up as a packet would, reaping on the way.
    public func lookup(_ id: TupleID, now: Int64, _ ctx: inout WorkerContext) -> (Connection, Direction)? {
        readLock(&ctx)
        let t = connFor(id, bucket: bucketIndex(id), now: now, &ctx)
        unlockTable(&ctx)
        guard let t else { return nil }
        return (Connection(t.pointee.conn), t.pointee.direction)
    }
}
