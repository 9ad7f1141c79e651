// Operations while packets flow (`--op`).
extension LinuxTable {
    /// As `ctnetlink_dump_table` walks (net/netfilter/nf_conntrack_netlink.c):
    /// bucket by bucket under the bucket's stripe lock
    /// (`nf_conntrack_locks[]`), listing the original-direction entries
    /// that have not expired, each read under its own lock. Nodes leave or
    /// join a chain only under its stripe, so the chain holds still while
    /// it is walked, and a connection is listed once, at its original
    /// tuple. Lookups go on without locks meanwhile; an insert or removal
    /// in the bucket waits for the walk of that bucket.
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        var n = OperationCounts()
        // Resizes run on this thread too: the table holds still for it.
        let t = ht
        for b in 0..<t.size {
            let s = Self.stripe(b)
            lockStripe(s, &ctx)
            var listed: [LinuxConn] = []
            forEachNode(bucket: b, heads: t.heads) { c, d in
                n.visited += 1
                if d == 0 && c.remaining(now: now) >= 0 { listed.append(c) }
            }
            for c in listed { body(record(c, now: now, &ctx)) }
            n.listed += listed.count
            unlockStripe(s, &ctx)
            // The walk held no node past the stripe: a quiescent point.
            workerQuiescent(slot)
        }
        return n
    }
}

extension LinuxTable {
    /// As `nf_ct_iterate_cleanup` (net/netfilter/nf_conntrack_core.c):
    /// `get_next_corpse` walks a bucket under its stripe lock and takes a
    /// reference on each matching entry; with the lock let go, each is
    /// killed (`nf_ct_delete`, which takes both buckets' stripes in order)
    /// and its reference dropped.
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        var n = OperationCounts()
        var corpses: [LinuxConn] = []
        let t = ht
        for b in 0..<t.size {
            let s = Self.stripe(b)
            lockStripe(s, &ctx)
            corpses.removeAll(keepingCapacity: true)
            forEachNode(bucket: b, heads: t.heads) { c, d in
                n.visited += 1
                if d == 0 && filter.matches(c.keys.pointee.original) && c.refIncNotZero() { corpses.append(c) }
            }
            unlockStripe(s, &ctx)
            for c in corpses {
                if kill(c, kind: .operation, now: now, &ctx) { n.removed += 1 }
                c.put()
            }
            workerQuiescent(slot)
        }
        return n
    }
}
