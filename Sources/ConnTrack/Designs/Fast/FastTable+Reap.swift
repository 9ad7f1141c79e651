import CPrefetch

// Garbage collection off the packet path: the reaper sweeps slices of the
// index (`--buckets` of them). A slice's buckets are scanned without a lock,
// reading each connection's `lastUsed` and cached timeout; only an expired
// connection's stripes are locked, to remove it. A connection is checked
// once, through its first slot (a NAT reply's slot is skipped).
extension FastTable {
    /// Home buckets of slice s.
    @inline(__always)
    func buckets(ofSlice s: Int) -> Range<Int> {
        (s * homeBuckets / slices)..<((s + 1) * homeBuckets / slices)
    }

    /// Calls `body` with the entry index of every connection whose first
    /// slot is in the chain of home bucket b (read without a lock).
    @inline(__always)
    func forEachFirstSlot(home b: Int, _ body: (UInt32) -> Void) {
        // A sparse index is mostly empty buckets: the seven slots are read
        // first and tested at once. `body` may remove connections, which
        // only clears their own slots: one whose first slot is later in
        // this bucket was not handed to `body` yet, so the values read
        // first are what reading each slot in turn would find.
        assert(Self.slotsPerBucket == 7, "the unrolled read below assumes 7 slots")
        var bucket = b
        while true {
            let s1 = word(bucket, 1).pointee.load(ordering: .acquiring)
            let s2 = word(bucket, 2).pointee.load(ordering: .acquiring)
            let s3 = word(bucket, 3).pointee.load(ordering: .acquiring)
            let s4 = word(bucket, 4).pointee.load(ordering: .acquiring)
            let s5 = word(bucket, 5).pointee.load(ordering: .acquiring)
            let s6 = word(bucket, 6).pointee.load(ordering: .acquiring)
            let s7 = word(bucket, 7).pointee.load(ordering: .acquiring)
            if s1 | s2 | s3 | s4 | s5 | s6 | s7 != 0 {
                let slots: InlineArray<7, UInt64> = [s1, s2, s3, s4, s5, s6, s7]
                for k in 0..<7 where slots[k] != 0 && Self.kind(slots[k]) != .reply {
                    body(Self.entryIndex(slots[k]))
                }
            }
            let link = word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
            if link == 0 { return }
            bucket = Int(truncatingIfNeeded: link) &- 1
        }
    }

    /// `forEachFirstSlot` over consecutive home buckets, in the same order,
    /// with the entries' cache misses overlapped: indexes are collected and
    /// their entries prefetched 32 at a time before `body` sees them.
    @inline(__always)
    func forEachFirstSlot(inBuckets range: Range<Int>, _ body: (UInt32) -> Void) {
        var batch = InlineArray<32, UInt32>(repeating: 0)
        var n = 0
        for b in range {
            // The index is read in order, a line per home bucket: fetched
            // 16 lines ahead (into the next slice), so that its misses
            // overlap too.
            if b &+ 16 < homeBuckets { prefetchBucket(b &+ 16) }
            forEachFirstSlot(home: b) { i in
                // lastUsed and flags: the 16 bytes before the entry.
                ct_prefetch_read(UnsafeRawPointer(pool.entry(i)) - 16)
                batch[n] = i
                n += 1
                if n == 32 {
                    for k in 0..<n { body(batch[k]) }
                    n = 0
                }
            }
        }
        for k in 0..<n { body(batch[k]) }
    }

    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        sweep(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, summary: nil, &ctx)
    }

    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         updating summary: inout SweepSummary, _ ctx: inout WorkerContext) -> ReapPassResult {
        withUnsafeMutablePointer(to: &summary) {
            sweep(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, summary: $0, &ctx)
        }
    }

    /// One pass over `maxSlots` slices from `start` (wrapping), stopping
    /// after the slice where it reached `maxEvictions` removals.
    private func sweep(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                       summary: UnsafeMutablePointer<SweepSummary>?, _ ctx: inout WorkerContext) -> ReapPassResult {
        var res = ReapPassResult()
        var idx = 0
        var i = 0
        while i < maxSlots {
            idx = (i &+ start) % slices
            forEachFirstSlot(inBuckets: buckets(ofSlice: idx)) { entry in
                let e = pool.entry(entry)
                let r = remaining(e, now: now)
                res.checked += 1
                if r >= 0 {
                    res.liveChecked += 1
                    res.remainingSum += Int128(r)
                    return
                }
                res.expired += 1
                // A packet may have refreshed it meanwhile: check again
                // under its stripes.
                if reapIfExpired(entry, now: now, &ctx) { res.removed += 1 }
            }
            i += 1
            if res.removed >= maxEvictions { res.stoppedEarly = i < maxSlots; break }
        }
        if let summary, summary.pointee.valid {
            for k in 0..<min(i, slices) {
                let s = (start &+ k) % slices
                summary.pointee.set(s, summarise(slice: s))
            }
        }
        res.slotsScanned = i
        res.nextStart = idx + 1
        return res
    }

    /// The reaper's removal of entry i, if it is still expired under its
    /// stripes (a packet may have refreshed it since it was read).
    @inline(__always)
    func reapIfExpired(_ i: UInt32, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        remove(i, kind: .reaper, now: now, &ctx, if: { e, _ in remaining(e, now: now) < 0 })
    }

    /// Slice s's leaf: its connections and their expiry times.
    func summarise(slice s: Int) -> SweepSummary.Leaf {
        var leaf = SweepSummary.Leaf.empty
        forEachFirstSlot(inBuckets: buckets(ofSlice: s)) { leaf.add(expiry: remaining(pool.entry($0), now: 0)) }
        return leaf
    }

    public func makeSweepSummary() -> SweepSummary {
        SweepSummary(leaves: (0..<slices).map { summarise(slice: $0) })
    }

    /// The sweep of `reapPass` when nothing in its window has expired: it
    /// checks every connection there, removes nothing and takes no lock.
    public func idlePass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? {
        guard summary.valid, summary.size == slices else { return nil }
        let walked = maxSlots <= 0 ? 0 : (maxEvictions <= 0 ? 1 : maxSlots)
        let w = summary.window(start: start % slices, length: walked)
        guard w.noneExpired(at: now) else { return nil }
        let last = walked > 0 ? (walked - 1 &+ start) % slices : 0
        return ReapPassResult(nextStart: last + 1, slotsScanned: walked, checked: w.count,
                              remainingSum: w.remainingSum(at: now), liveChecked: w.count,
                              stoppedEarly: walked < maxSlots)
    }

    // Packets refresh and create connections anywhere (and a lookup may
    // remove an expired one whose first slot is in another slice): the
    // protocol's default `updateSweepSummary` has the summary rebuilt.
}

// A pass split across the workers waiting at a lock-step boundary: the scan
// is the walk of `sweep` without its removals. A connection is counted
// through its first slot only, so removing one elsewhere (its reply slot
// may sit in any chain) changes no other slice's tally.
extension FastTable {
    public var scansForReap: Bool { true }

    /// A removal clears the connection's slots only: its reply slot, in
    /// whatever chain, is no slot's first, so no other slice's count
    /// changes, and parties walking disjoint slices meet only on stripe
    /// locks, which they take in order.
    public var walksSlotsIndependently: Bool { true }

    public func scanForReap(start: Int, range: Range<Int>, now: Int64,
                            into tallies: UnsafeMutableBufferPointer<ReapSlotTally>) {
        scan(start: start, range: range, now: now, into: tallies) { _ in }
    }

    public func scanForReap(start: Int, range: Range<Int>, now: Int64,
                            into tallies: UnsafeMutableBufferPointer<ReapSlotTally>, expired: inout [UInt32]) {
        scan(start: start, range: range, now: now, into: tallies) { expired.append($0) }
    }

    /// The walk of `sweep` over `range`, counting instead of removing; an
    /// expired entry goes to `onExpired`, in the order `sweep` removes.
    @inline(__always)
    private func scan(start: Int, range: Range<Int>, now: Int64, into tallies: UnsafeMutableBufferPointer<ReapSlotTally>,
                      onExpired: (UInt32) -> Void) {
        precondition(tallies.count >= range.count, "tally buffer too small")
        for k in range {
            var t = ReapSlotTally()
            forEachFirstSlot(inBuckets: buckets(ofSlice: (start &+ k) % slices)) { entry in
                let r = remaining(pool.entry(entry), now: now)
                t.checked += 1
                if r >= 0 {
                    t.liveChecked += 1
                    t.remainingSum += Int128(r)
                } else {
                    t.expired += 1
                    onExpired(entry)
                }
            }
            tallies[k - range.lowerBound] = t
        }
    }

    public func removeScanned(_ expired: UnsafeBufferPointer<UInt32>, now: Int64, _ ctx: inout WorkerContext) -> Int {
        var removed = 0
        for entry in expired where reapIfExpired(entry, now: now, &ctx) { removed += 1 }
        return removed
    }

    public func summariseSlots(_ range: Range<Int>, into leaves: UnsafeMutableBufferPointer<SweepSummary.Leaf>) -> Bool {
        for s in range { leaves[s - range.lowerBound] = summarise(slice: s) }
        return true
    }

    /// `sweep` returns the slice after the last one it scanned, wrapped.
    public func reapNextStart(start: Int, scanned: Int) -> Int { (start &+ scanned &- 1) % slices + 1 }
}
