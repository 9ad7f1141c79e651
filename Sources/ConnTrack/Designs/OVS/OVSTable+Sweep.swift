import Sync

extension OVSTable {
    /// `conntrack_clean`: whole expiry lists from the one `start` falls in
    /// (`next_sweep`), each walked by `ct_sweep`, until more than
    /// `maxSlots` connections were visited, checked before each list (OVS's
    /// budget, `n_conn_limit / 64`, is the policy's pass). As OVS 3.x walks
    /// its rculists, the lists are walked without ct_lock: each connection's
    /// expiration is read without a lock (`conn_expired`), and an expired
    /// one is cleaned under ct_lock, taken for that removal alone
    /// (`conn_clean`), unless another thread cleaned it since (OVS tests its
    /// `reclaimed` flag; here it is no longer listed). At most
    /// `maxEvictions` are removed (OVS has no such cap). The walk is the
    /// epochs' unregistered walker, so nothing removed during it is freed
    /// before it ends. Positions: list `l` starts at `listStart(l)`; a
    /// pass that walks the last list returns a `nextStart` at the end of
    /// the slots, so the next pass starts a new sweep from list 0.
    /// Preconditions: no other `reapPass` of this table is under way.
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        var r = ReapPassResult()
        let slots = sweepSlots
        let s = start % slots
        var l = listOf(position: s)
        reclaimer.epochs.walkBegin()
        walk: while l < Self.expiryListCount {
            if r.checked > maxSlots { break }
            var at = walkHead(l)
            while let c = at {
                let rem = remaining(c, now: now)
                r.checked += 1
                if Self.expired(rem) {
                    if r.removed == maxEvictions {
                        // Stopped inside list l: the next pass walks it again.
                        r.expired += 1
                        r.stoppedEarly = true
                        break walk
                    }
                    lockCT(&ctx)
                    // An expired connection is never refreshed (`update`
                    // passes over it), so only its removal since matters.
                    if listIndex(c) != Self.unlisted {
                        r.expired += 1
                        remove(c, reason: .reaper, now: now, &ctx)
                        r.removed += 1
                    }
                    unlockCT(&ctx)
                } else {
                    r.liveChecked += 1
                    r.remainingSum += Int128(rem)
                }
                // Read after the removal: c keeps its link off the list.
                at = Self.walkNext(c)
            }
            l += 1
        }
        reclaimer.epochs.walkEnd()
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
            if Self.expired(remaining(c, now: now)) { n += 1 }
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
            var c = head(l)
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
