import Sync

extension OVSTable {
    /// `conntrack_clean`: whole expiry lists from the one `start` falls in
    /// (`next_sweep`), each walked by `ct_sweep`, until more than
    /// `maxSlots` connections were visited, checked before each list (OVS's
    /// budget, `n_conn_limit / 64`, is the policy's pass). A connection is
    /// read under its mutex and removed when expired (at most
    /// `maxEvictions`; OVS has no such cap). ct_lock is taken per list:
    /// OVS 3.x walks its rculists without it and takes it per removal,
    /// which needs lists a reader may walk while they change; 2.x held it
    /// for the whole sweep. Positions: list `l` starts at `listStart(l)`; a
    /// pass that walks the last list returns a `nextStart` at the end of
    /// the slots, so the next pass starts a new sweep from list 0.
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        var r = ReapPassResult()
        let slots = sweepSlots
        let s = start % slots
        var l = listOf(position: s)
        walk: while l < Self.expiryListCount {
            if r.checked > maxSlots { break }
            lockCT(&ctx)
            var at = lists[l].head
            while let c = at {
                let next = Self.next(c)
                let rem = lockedRemaining(c, now: now, &ctx)
                r.checked += 1
                if Self.expired(rem) {
                    r.expired += 1
                    if r.removed == maxEvictions {
                        // Stopped inside list l: the next pass walks it again.
                        r.stoppedEarly = true
                        unlockCT(&ctx)
                        break walk
                    }
                    remove(c, reason: .reaper, now: now, &ctx)
                    r.removed += 1
                } else {
                    r.liveChecked += 1
                    r.remainingSum += Int128(rem)
                }
                at = next
            }
            unlockCT(&ctx)
            l += 1
        }
        ctx.stats.removedByReaper &+= UInt64(r.removed)
        // The end of the lists ends the sweep; otherwise the next pass
        // starts at list l (past `start`, so a pass always moves on).
        let end = l == Self.expiryListCount ? slots : max(listStart(l), s + 1)
        r.slotsScanned = end - s
        r.nextStart = start + r.slotsScanned
        return r
    }

    /// The first position of list `l` (positions `0 ..< sweepSlots` are
    /// dealt to the 100 lists in order, each list an equal share).
    @inline(__always)
    func listStart(_ l: Int) -> Int { (l * sweepSlots + Self.expiryListCount - 1) / Self.expiryListCount }

    /// The list position `p` falls in.
    @inline(__always)
    func listOf(position p: Int) -> Int { min(p * Self.expiryListCount / sweepSlots, Self.expiryListCount - 1) }

    /// Connections expired at `now` still in the table.
    public func expiredCount(now: Int64) -> Int {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        var n = 0
        var at = first(from: 0)
        while let (c, l) = at {
            if Self.expired(lockedRemaining(c, now: now, &ctx)) { n += 1 }
            at = successor(c, list: l)
        }
        return n
    }

    /// Slots: the 100 expiry lists, with their lengths.
    public func inspect() -> TableInspection {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        var lengths: [Int] = []
        var tuples = 0
        for l in 0..<Self.expiryListCount {
            lengths.append(lists[l].count)
            var c = lists[l].head
            while let x = c { tuples += x.isSelf ? 1 : 2; c = Self.next(x) }
        }
        var i = TableInspection(slotName: "expiry list", slotLengths: lengths, stripeName: nil, stripeContention: [],
                                tuples: tuples, connections: count)
        i.retiredNotFreed = reclaimer.backlog
        i.peakConnections = peak
        i.mappedBytes = mapBytes
        return i
    }
}
