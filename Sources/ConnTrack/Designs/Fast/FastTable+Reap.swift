import CPrefetch

// Garbage collection off the packet path: the reaper sweeps slices of the
// index (`--buckets` of them). A slice's buckets are scanned without a lock,
// reading each connection's `lastUsed` and cached timeout; only an expired
// connection's stripes are locked, to remove it. A connection is checked
// once, through its first slot (a NAT reply's slot is skipped).
extension FastTable {
    /// Home buckets of slice s in `ix`.
    @inline(__always)
    func buckets(ofSlice s: Int, in ix: FastIndex) -> Range<Int> {
        (s * ix.homeBuckets / slices)..<((s + 1) * ix.homeBuckets / slices)
    }

    /// Runs `body` with the current index, counted as a walker, so that a
    /// resize that replaces it meanwhile does not unmap it under `body`.
    @inline(__always)
    func walkingIndex<R>(_ body: (FastIndex) -> R) -> R {
        walkers.add(1, ordering: .sequentiallyConsistent)
        defer { walkers.subtract(1, ordering: .releasing) }
        return body(current.load(ordering: .sequentiallyConsistent).pointee)
    }

    /// Calls `body` with the entry index of every connection whose first
    /// slot is in the chain of home bucket b of `ix` (read without a lock).
    @inline(__always)
    func forEachFirstSlot(in ix: FastIndex, home b: Int, _ body: (UInt32) -> Void) {
        // A sparse index is mostly empty buckets: the seven slots are read
        // first and tested at once. `body` may remove connections, which
        // only clears their own slots: one whose first slot is later in
        // this bucket was not handed to `body` yet, so the values read
        // first are what reading each slot in turn would find.
        assert(Self.slotsPerBucket == 7, "the unrolled read below assumes 7 slots")
        var bucket = b
        while true {
            let s1 = ix.word(bucket, 1).pointee.load(ordering: .acquiring)
            let s2 = ix.word(bucket, 2).pointee.load(ordering: .acquiring)
            let s3 = ix.word(bucket, 3).pointee.load(ordering: .acquiring)
            let s4 = ix.word(bucket, 4).pointee.load(ordering: .acquiring)
            let s5 = ix.word(bucket, 5).pointee.load(ordering: .acquiring)
            let s6 = ix.word(bucket, 6).pointee.load(ordering: .acquiring)
            let s7 = ix.word(bucket, 7).pointee.load(ordering: .acquiring)
            if s1 | s2 | s3 | s4 | s5 | s6 | s7 != 0 {
                let slots: InlineArray<7, UInt64> = [s1, s2, s3, s4, s5, s6, s7]
                for k in 0..<7 where slots[k] != 0 && Self.kind(slots[k]) != .reply {
                    body(Self.entryIndex(slots[k]))
                }
            }
            let link = ix.word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
            if link == 0 { return }
            bucket = Int(truncatingIfNeeded: link) &- 1
        }
    }

    /// `forEachFirstSlot` over consecutive home buckets, in the same order,
    /// with the entries' cache misses overlapped: indexes are collected and
    /// their entries prefetched 32 at a time before `body` sees them.
    @inline(__always)
    func forEachFirstSlot(in ix: FastIndex, buckets range: Range<Int>, _ body: (UInt32) -> Void) {
        var batch = InlineArray<32, UInt32>(repeating: 0)
        var n = 0
        for b in range {
            // The index is read in order, a line per home bucket: fetched
            // 16 lines ahead (into the next slice), so that its misses
            // overlap too.
            if b &+ 16 < ix.homeBuckets { ix.prefetchBucket(b &+ 16) }
            forEachFirstSlot(in: ix, home: b) { i in
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
        walkingIndex { ix in
            sweep(ix, start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, summary: summary, &ctx)
        }
    }

    /// `sweep` over index `ix`. Preconditions: counted in `walkers`.
    private func sweep(_ ix: FastIndex, start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                       summary: UnsafeMutablePointer<SweepSummary>?, _ ctx: inout WorkerContext) -> ReapPassResult {
        var res = ReapPassResult()
        var idx = 0
        var i = 0
        while i < maxSlots {
            idx = (i &+ start) % slices
            forEachFirstSlot(in: ix, buckets: buckets(ofSlice: idx, in: ix)) { entry in
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
                summary.pointee.set(s, summarise(slice: s, in: ix))
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

    /// Slice s's leaf in `ix`: its connections and their expiry times.
    /// Preconditions: counted in `walkers`.
    func summarise(slice s: Int, in ix: FastIndex) -> SweepSummary.Leaf {
        var leaf = SweepSummary.Leaf.empty
        forEachFirstSlot(in: ix, buckets: buckets(ofSlice: s, in: ix)) { leaf.add(expiry: remaining(pool.entry($0), now: 0)) }
        return leaf
    }

    public func makeSweepSummary() -> SweepSummary {
        walkingIndex { ix in SweepSummary(leaves: (0..<slices).map { summarise(slice: $0, in: ix) }) }
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
        walkingIndex { ix in
            scan(ix, start: start, range: range, now: now, into: tallies, onExpired: onExpired)
        }
    }

    /// `scan` over index `ix`. Preconditions: counted in `walkers`.
    @inline(__always)
    private func scan(_ ix: FastIndex, start: Int, range: Range<Int>, now: Int64,
                      into tallies: UnsafeMutableBufferPointer<ReapSlotTally>, onExpired: (UInt32) -> Void) {
        for k in range {
            var t = ReapSlotTally()
            forEachFirstSlot(in: ix, buckets: buckets(ofSlice: (start &+ k) % slices, in: ix)) { entry in
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
        walkingIndex { ix in
            for s in range { leaves[s - range.lowerBound] = summarise(slice: s, in: ix) }
        }
        return true
    }

    /// `sweep` returns the slice after the last one it scanned, wrapped.
    public func reapNextStart(start: Int, scanned: Int) -> Int { (start &+ scanned &- 1) % slices + 1 }
}
