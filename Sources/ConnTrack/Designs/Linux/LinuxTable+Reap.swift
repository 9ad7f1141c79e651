import struct Synchronization.Atomic

// Garbage collection (`gc_worker`): a pass walks buckets without a lock,
// reading each node's connection expiry; an expired connection is removed
// through `nf_ct_gc_expired` (both stripes). Every node is checked, so a
// connection counts twice, once per direction, as in the kernel's walk. The
// schedule (average remaining timeout, 1–60 s, budgeted passes) is the
// `linux2022` policy. The sweep summary has one leaf per bucket: its nodes
// and their connections' expiry times.
extension LinuxTable {
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        walk(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, summary: nil, &ctx)
    }

    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         updating summary: inout SweepSummary, _ ctx: inout WorkerContext) -> ReapPassResult {
        withUnsafeMutablePointer(to: &summary) {
            walk(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, summary: $0, &ctx)
        }
    }

    /// One pass over `maxSlots` buckets from `start` (wrapping), stopping
    /// after the bucket where it reached `maxEvictions` removals. With a
    /// summary, removals are noted in it (the partner's bucket may lie
    /// outside the window) and the walked buckets are recounted at the end.
    private func walk(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                      summary: UnsafeMutablePointer<SweepSummary>?, _ ctx: inout WorkerContext) -> ReapPassResult {
        var res = ReapPassResult()
        // Nothing removed from now on is freed before the pass ends (nor a
        // table a resize replaced).
        reclaimer.sweepBegin()
        defer { reclaimer.sweepEnd() }
        let n = bucketCount
        var idx = 0
        var i = 0
        while i < maxSlots {
            // The table as it is at each bucket, as `gc_worker` reads it.
            let t = ht
            idx = (i &+ start) % t.size
            var v = t.heads[idx].load(ordering: .acquiring)
            while v & 1 == 0 {
                let c = LinuxConn(link: v)
                let dir = LinuxConn.direction(v)
                res.checked += 1
                let r = c.remaining(now: now)
                if r >= 0 {
                    res.liveChecked += 1
                    res.remainingSum += Int128(r)
                } else {
                    res.expired += 1
                    if gcExpired(c, now: now, kind: .reaper, summary: summary, &ctx) { res.removed += 1 }
                }
                // A removed node's link is intact: the walk goes on.
                v = c.next(dir).pointee.load(ordering: .acquiring)
            }
            i += 1
            if res.removed >= maxEvictions { res.stoppedEarly = i < maxSlots; break }
        }
        if let summary, summary.pointee.valid, summary.pointee.size == n, n == bucketCount {
            for k in 0..<min(i, n) {
                let b = (start &+ k) % n
                summary.pointee.set(b, summarise(bucket: b))
            }
        }
        res.slotsScanned = i
        res.nextStart = idx + 1
        return res
    }

    /// Bucket b's leaf: its nodes and their connections' expiry times.
    /// Preconditions: no resize runs (operations that change the table
    /// turn the summary off).
    func summarise(bucket b: Int) -> SweepSummary.Leaf {
        var leaf = SweepSummary.Leaf.empty
        var v = ht.heads[b].load(ordering: .acquiring)
        while v & 1 == 0 {
            let c = LinuxConn(link: v)
            leaf.add(expiry: c.expires.pointee.load(ordering: .relaxed))
            v = c.next(LinuxConn.direction(v)).pointee.load(ordering: .acquiring)
        }
        return leaf
    }

    public func makeSweepSummary() -> SweepSummary {
        SweepSummary(leaves: (0..<bucketCount).map { summarise(bucket: $0) })
    }

    /// The walk of `reapPass` when nothing in its window has expired: it
    /// checks every node there, removes nothing and takes no lock.
    public func idlePass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? {
        let n = bucketCount
        guard summary.valid, summary.size == n else { return nil }
        let walked = maxSlots <= 0 ? 0 : (maxEvictions <= 0 ? 1 : maxSlots)
        let w = summary.window(start: start % n, length: walked)
        guard w.noneExpired(at: now) else { return nil }
        let last = walked > 0 ? (walked - 1 &+ start) % n : 0
        return ReapPassResult(nextStart: last + 1, slotsScanned: walked, checked: w.count,
                              remainingSum: w.remainingSum(at: now), liveChecked: w.count,
                              stoppedEarly: walked < maxSlots)
    }

    // Packets create, refresh and (inline, early drop) remove connections
    // in any bucket: the protocol's default `updateSweepSummary` has the
    // summary rebuilt after them.
}
