import struct Synchronization.Atomic

// The chains (`hlist_nulls`) and the lock-free lookup.
extension LinuxTable {
    /// The end marker of bucket b's chain.
    @inline(__always) static func endMarker(_ b: Int) -> UInt { UInt(b) &<< 1 | 1 }

    /// `hlist_nulls_add_head_rcu`: puts c's node `dir` at the front of
    /// bucket b's chain; the store of the head publishes it (release), so
    /// a reader that loads the link sees the node's keys and next link.
    /// Preconditions: b's stripe is locked (or, in a resize, every stripe
    /// drained); the node is in no chain; `heads` is the table b is of.
    @inline(__always)
    func pushFront(_ c: LinuxConn, _ dir: Int, _ b: Int, heads: UnsafeMutablePointer<Atomic<UInt>>) {
        let h = heads + b
        let first = h.pointee.load(ordering: .relaxed)
        c.next(dir).pointee.store(first, ordering: .relaxed)
        c.pprev(dir).pointee = h
        if first & 1 == 0 {
            let f = LinuxConn(link: first)
            f.pprev(LinuxConn.direction(first)).pointee = c.next(dir)
        }
        h.pointee.store(c.link(dir), ordering: .releasing)
    }

    /// `hlist_nulls_del_rcu`: takes c's node `dir` out of its chain. Its
    /// own next link is left as it was, so a reader standing on it walks
    /// on into the rest of the chain. Preconditions: the stripe of the
    /// node's bucket is locked; the node is linked.
    @inline(__always)
    func unlink(_ c: LinuxConn, _ dir: Int) {
        let pp = c.pprev(dir).pointee.unsafelyUnwrapped
        let next = c.next(dir).pointee.load(ordering: .relaxed)
        pp.pointee.store(next, ordering: .releasing)
        if next & 1 == 0 {
            LinuxConn(link: next).pprev(LinuxConn.direction(next)).pointee = pp
        }
        c.pprev(dir).pointee = nil
    }

    /// `____nf_conntrack_find`: walks the chain of `id` (whose hash is
    /// `hash`) in the current table without a lock; an expired connection
    /// met on the way is removed (`nf_ct_gc_expired`) and skipped; when the
    /// walk ends at another bucket's marker (an entry moved under it, by a
    /// removal or a resize), it restarts. During a resize it can miss a
    /// connection being moved, as the kernel's can; the insert that may
    /// follow finds it under the stripes (a clash).
    /// Preconditions: the caller is between quiescent points.
    @inline(__always)
    func find(_ id: TupleID, hash: UInt32, now: Int64, _ ctx: inout WorkerContext) -> (LinuxConn, Int)? {
        while true {
            var walked = 0
            let t = ht
            let b = Self.scale(hash, size: t.size)
            var v = t.heads[b].load(ordering: .acquiring)
            while v & 1 == 0 {
                let c = LinuxConn(link: v)
                let dir = LinuxConn.direction(v)
                walked &+= 1
                if c.remaining(now: now) < 0 {
                    gcExpired(c, now: now, kind: .inline, &ctx)
                } else if c.tuple(dir) == id {
                    ctx.stats.chain.record(walked)
                    return (c, dir)
                }
                v = c.next(dir).pointee.load(ordering: .acquiring)
            }
            if v &>> 1 == UInt(b) {
                ctx.stats.chain.record(walked)
                return nil
            }
            ctx.stats.searchRestart &+= 1
        }
    }

    /// `__nf_conntrack_find_get`: `find`, then a reference (which fails
    /// once the connection was removed), then the key checked again.
    @inline(__always)
    func findGet(_ id: TupleID, hash: UInt32, now: Int64, _ ctx: inout WorkerContext) -> (LinuxConn, Int)? {
        guard let (c, dir) = find(id, hash: hash, now: now, &ctx) else { return nil }
        if c.refIncNotZero() {
            if c.tuple(dir) == id { return (c, dir) }
            c.put()
        }
        return nil
    }

    /// `nf_ct_gc_expired`: removes c if it is still expired, confirmed and
    /// not being removed. True when this call removed it.
    @discardableResult
    func gcExpired(_ c: LinuxConn, now: Int64, kind: RemovalKind, summary: UnsafeMutablePointer<SweepSummary>? = nil,
                   _ ctx: inout WorkerContext) -> Bool {
        guard c.refIncNotZero() else { return false }
        defer { c.put() }
        let expiry = c.expires.pointee.load(ordering: .relaxed)
        guard expiry &- now < 0, c.has(LinuxStatus.confirmed) else { return false }
        guard kill(c, kind: kind, now: now, &ctx) else { return false }
        if let summary {
            summary.pointee.removeEntry(slot: bucket(c.keys.pointee.original), expiry: expiry)
            summary.pointee.removeEntry(slot: bucket(c.keys.pointee.reply), expiry: expiry)
        }
        return true
    }

    /// `nf_ct_delete`: marks c dying (once), reports its [DESTROY] (with
    /// `reason`, by default the kind's), unlinks both nodes under both
    /// stripes, drops the table's reference, counts and retires it. False
    /// when another thread is removing it. Preconditions: no lock is held.
    @discardableResult
    func kill(_ c: LinuxConn, kind: RemovalKind, reason: RemovalReason? = nil, now: Int64,
              _ ctx: inout WorkerContext) -> Bool {
        guard c.set(LinuxStatus.dying) else { return false }
        if ctx.tracingEvents { ctx.traceEvent(.destroy, record(c, now: now, &ctx), now: now, reason: reason ?? kind.reason) }
        let k = c.keys.pointee
        let locked = lockBuckets(hash(k.original), hash(k.reply), partner: !skipPartnerStripe, &ctx)
        unlink(c, 0)
        unlink(c, 1)
        doubleUnlock(locked.held, &ctx)
        c.put()
        ctx.stats.countRemoval(kind)
        limit.release()
        reclaimer.retire(c, &ctx)
        return true
    }
}
