import Sync

extension OVSTable {
    /// `ct_sweep` over positions `start ..< start + maxSlots` of the expiry
    /// lists taken in class order: each connection is read under its mutex
    /// and removed when expired (at most `maxEvictions`). The walk holds
    /// ct_lock for the pass (OVS 2.x held it for a sweep; 3.x walks its
    /// rculists without it and takes it per removal). A pass that reaches
    /// the end of the lists returns a `nextStart` at the end of the slots,
    /// so the next pass starts a new sweep from the head.
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        var r = ReapPassResult()
        let slots = sweepSlots
        let s = start % slots
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        // Resume where the last pass stopped, or walk from the head to `s`.
        var at: (UnsafeMutablePointer<ConnNode>, Int)?
        if let k = cursor, k.position == s {
            at = (k.conn, k.list)
        } else {
            at = first(from: 0)
            var skip = s
            while skip > 0, let (c, l) = at { at = successor(c, list: l); skip -= 1 }
        }
        cursor = nil
        while r.checked < maxSlots, let (c, l) = at {
            let next = successor(c, list: l)
            let rem = lockedRemaining(c, now: now, &ctx)
            r.checked += 1
            if Self.expired(rem) {
                r.expired += 1
                if r.removed == maxEvictions {
                    r.stoppedEarly = true
                    break
                }
                remove(c, reason: .reaper, now: now, &ctx)
                r.removed += 1
            } else {
                r.liveChecked += 1
                r.remainingSum += Int128(rem)
            }
            at = next
        }
        ctx.stats.removedByReaper &+= UInt64(r.removed)
        if let (c, l) = at {
            // Stopped inside the lists: the positions before the stop are the
            // connections kept (removed ones leave no position). A multiple
            // of the slot count would read as the end of a sweep, so the
            // nominal position skips it; the cursor holds the real place.
            var next = start + max(1, r.liveChecked)
            if next % slots == 0 && slots > 1 { next += 1 }
            r.nextStart = next
            r.slotsScanned = next - start
            cursor = (position: next % slots, conn: c, list: l)
        } else {
            // The end of the lists: the rest of the positions are empty.
            r.slotsScanned = slots - s
            r.nextStart = start + (slots - s)
        }
        return r
    }

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
