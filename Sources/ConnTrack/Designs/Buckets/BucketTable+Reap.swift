/// What happened to an expired-or-not tuple during a walk.

enum ReapOutcome {
    case alive
    /// Expired, but the partner's bucket is lower: left in place.
    case deferred
    /// Expired and removed with its partner.
    case removed
}

/// Who removed a connection, for the counters.

enum RemovalKind {
    case inline, reaper, other
    /// An operation on the running table (`--op flush`, `delete`).
    case operation

    /// The cause a [DESTROY] event names.
    var reason: RemovalReason {
        switch self {
        case .inline: .inline
        case .reaper: .reaper
        case .other, .operation: .other
        }
    }
}

extension TableStats {
    /// Counts one connection removed by `kind` (every design's removals).
    @inline(__always)
    mutating func countRemoval(_ kind: RemovalKind) {
        switch kind {
        case .inline: removedInline &+= 1
        case .reaper: removedByReaper &+= 1
        case .other: removedOther &+= 1
        case .operation: removedByOperation &+= 1
        }
    }
}

extension BucketTable {
    /// Nanoseconds until the connection times out (negative: expired).
    /// The seed's `timedOut` is `remaining < 0`. Locks the connection.
    /// Preconditions: the bucket holding one of its tuples is locked.
    @inline(__always)
    func remaining(_ c: UnsafeMutablePointer<ConnNode>, now: Int64, _ ctx: inout WorkerContext) -> Int64 {
        lockConn(c, &ctx)
        let r = timeRemaining(c, timeouts, now: now)
        unlockConn(c, &ctx)
        return r
    }

    /// The bucket of a tuple's partner: read from the partner itself, or,
    /// with the `recompute-nat-partner` fault, by reversing the tuple.
    /// Preconditions: the table lock is held.
    @inline(__always)
    func partnerBucket(_ t: UnsafeMutablePointer<TupleNode>) -> Int {
        if rules.recomputePartnerByReversing { return bucketIndex(t.pointee.id.reversed) }
        return bucketIndex(t.partner.pointee.id)
    }

    /// Removes t's connection if it has timed out and lock order allows
    /// (the seed's `reapTupleLocked`). `remainingOut` receives the time to
    /// expiry. Preconditions: the table lock is held and bucket b is locked.

    /// A removal is noted in `summary` when there is one.
    func reapTupleLocked(_ t: UnsafeMutablePointer<TupleNode>, _ b: Int, now: Int64, kind: RemovalKind,
                         remainingOut: inout Int64, summary: UnsafeMutablePointer<SweepSummary>? = nil,
                         _ ctx: inout WorkerContext) -> ReapOutcome {
        let c = t.pointee.conn
        let r = remaining(c, now: now, &ctx)
        remainingOut = r
        if r >= 0 { return .alive }
        let rb = partnerBucket(t)
        if b > rb {
            // Locking rb now would break the order: leave it for a pass
            // that starts from the lower bucket.
            ctx.stats.deferredByLockOrder &+= 1
            return .deferred
        }
        let different = b != rb
        let lockPartner = different && !rules.skipPartnerBucketLock
        if lockPartner { lockBucket(rb, &ctx) }
        unlink(t.partner, rb)
        unlink(t, b)
        if lockPartner { unlockBucket(rb, &ctx) } else if different, let pause = afterUnlockedPartnerEdit { pause() }
        if let summary {
            summary.pointee.removeEntry(slot: bucketIndex(t.partner.pointee.id), expiry: now &+ r)
            summary.pointee.removeEntry(slot: b, expiry: now &+ r)
        }
        finishRemoval(c, kind: kind, now: now, &ctx)
        return .removed
    }

    /// Counts and retires a connection just unlinked from both buckets.
    @inline(__always)
    func finishRemoval(_ c: UnsafeMutablePointer<ConnNode>, kind: RemovalKind, reason: RemovalReason? = nil, now: Int64,
                       _ ctx: inout WorkerContext) {
        if ctx.tracingEvents { traceDestroyed(c, reason: reason ?? kind.reason, now: now, timeouts: timeouts, &ctx) }
        ctx.stats.countRemoval(kind)
        limit.release()
        reclaimer.retire(c, &ctx)
    }

    /// Where a walk goes after visiting `n`: the one place the seed's walk
    /// and the fixed walk differ. `next` and `afterNext` were read before
    /// the visit. Preconditions: the walked bucket is locked.
    @inline(__always)
    func advance(from n: UnsafeMutablePointer<TupleNode>, outcome: ReapOutcome,
                 next: UnsafeMutablePointer<TupleNode>?, afterNext: UnsafeMutablePointer<TupleNode>?) -> UnsafeMutablePointer<TupleNode>? {
        guard outcome == .removed else { return n.pointee.next }
        // seed2020: `other.Next()` of an element whose links were cleared.
        if rules.walkStopsAfterRemove { return n.pointee.next }
        // fixed: continue from the saved successor, skipping the partner
        // when it was that successor (it was removed too).
        return next == n.partner ? afterNext : next
    }

    /// Walks `maxSlots` buckets from `start` reaping expired connections
    /// (the loop of the seed's `reapUnused`), optionally stopping once
    /// `maxEvictions` connections were removed.
    public func reapPass(start: Int, maxSlots maxBuckets: Int, maxEvictions: Int = .max, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        walk(start: start, maxBuckets: maxBuckets, maxEvictions: maxEvictions, now: now, summary: nil, &ctx)
    }

    public func reapPass(start: Int, maxSlots maxBuckets: Int, maxEvictions: Int, now: Int64,
                         updating summary: inout SweepSummary, _ ctx: inout WorkerContext) -> ReapPassResult {
        withUnsafeMutablePointer(to: &summary) {
            walk(start: start, maxBuckets: maxBuckets, maxEvictions: maxEvictions, now: now, summary: $0, &ctx)
        }
    }

    /// The pass; with a summary, removals are noted in it and the walked
    /// buckets are recounted at the end.
    private func walk(start: Int, maxBuckets: Int, maxEvictions: Int, now: Int64,
                      summary: UnsafeMutablePointer<SweepSummary>?, _ ctx: inout WorkerContext) -> ReapPassResult {
        var res = ReapPassResult()
        readLock(&ctx)
        let count = bucketCount
        var idx = 0
        var i = 0
        while i < maxBuckets {
            idx = (i &+ start) % count
            lockBucket(idx, &ctx)
            var t = bucketPtr(idx).pointee.head
            while let n = t {
                let next = n.pointee.next
                let afterNext = next?.pointee.next
                res.checked += 1
                var rem: Int64 = 0
                let o = reapTupleLocked(n, idx, now: now, kind: .reaper, remainingOut: &rem, summary: summary, &ctx)
                switch o {
                case .alive: res.remainingSum += Int128(rem); res.liveChecked += 1
                case .deferred: res.expired += 1; res.deferred += 1
                case .removed: res.expired += 1; res.removed += 1
                }
                t = advance(from: n, outcome: o, next: next, afterNext: afterNext)
            }
            unlockBucket(idx, &ctx)
            i += 1
            if res.removed >= maxEvictions { res.stoppedEarly = i < maxBuckets; break }
        }
        if let summary { recount(start: start, buckets: i, into: summary) }
        unlockTable(&ctx)
        res.slotsScanned = i
        // The seed: "We already checked buckets[idx]." (Not wrapped: the
        // next call takes it modulo the table size.)
        res.nextStart = idx + 1
        return res
    }

    /// The seed's `reapUnused(start, prevInterval) -> (next, interval)`:
    /// one pass over `buckets / fraction` buckets and the seed's schedule.
    public func reapUnused(start: Int, previousInterval: Int64, now: Int64,
                           policy: SeedReaperPolicy = SeedReaperPolicy(),
                           _ ctx: inout WorkerContext) -> (next: Int, interval: Int64) {
        let r = reapPass(start: start, maxSlots: policy.bucketsPerPass(tableSize: bucketCount), now: now, &ctx)
        return (r.nextStart, policy.nextInterval(checked: r.checked, expired: r.expired, previous: previousInterval))
    }
}
