import struct Synchronization.Atomic

extension FastTable {
    /// The packet path for one packet whose tuple hashes to `h`: a
    /// lock-free lookup in index `ix` (the current one when the packet's
    /// group began), then refresh and track, or create.
    @inline(__always)
    func handle(_ p: Packet, hash h: UInt64, in ix: FastIndex, now: Int64, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        ctx.stats.lookups &+= 1
        // `--ipv4-only`: a compact slot cannot hold an IPv6 tuple, so the
        // packet is not tracked and is counted as a drop (as a full table's).
        if ipv4Only && !EntryLayout.fitsCompact(p.id) { return dropUnfit(p, &ctx) }
        let (hit, seen) = find(p.id, hash: h, in: ix, &ctx)
        if let hit {
            let e = pool.entry(hit.entry)
            // An expired entry is skipped; `create` removes it, since its
            // tuple needs the place (as `fixed`'s walk would reap it).
            if remaining(e, now: now) >= 0 {
                ctx.stats.found &+= 1
                if ctx.tracing { return .tracked(tracedRefreshAndTrack(e, reply: hit.direction == .reply, p, now: now, &ctx)) }
                return .tracked(refreshAndTrack(e, p, now: now, &ctx))
            }
        }
        ctx.stats.notFound &+= 1
        return create(p, hash: h, lookedUpIn: ix, now: now, seen: hit == nil ? seen : nil, &ctx)
    }

    @inline(never)
    func dropUnfit(_ p: Packet, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.notFound &+= 1
        ctx.stats.drop &+= 1
        if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
        return .notTracked
    }

    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        handle(p, hash: hash(p.id), in: index, now: clock.now(), &ctx)
    }

    // MARK: Version (seqlock) writes

    /// Makes home bucket b's version odd: readers of its chain restart.
    /// Preconditions: b's stripe is locked and `ix` is current (`lockHomes`).
    @inline(__always)
    func beginWrite(_ b: Int, in ix: FastIndex) {
        let w = ix.word(b, 0).pointee.load(ordering: .relaxed)
        assert(w & 1 == 0, "bucket \(b) is already being written")
        ix.word(b, 0).pointee.store(Self.bumpVersion(w), ordering: .relaxed)
    }

    /// Makes home bucket b's version even again (and new). Preconditions:
    /// b's stripe is locked and `beginWrite(b, in: ix)` was called.
    @inline(__always)
    func endWrite(_ b: Int, in ix: FastIndex) {
        let w = ix.word(b, 0).pointee.load(ordering: .relaxed)
        ix.word(b, 0).pointee.store(Self.bumpVersion(w), ordering: .releasing)
    }

    /// Adds one to the version in the low 32 bits, keeping the link.
    @inline(__always)
    static func bumpVersion(_ w: UInt64) -> UInt64 {
        (w & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(truncatingIfNeeded: w) &+ 1)
    }

    /// An empty slot in the chain of home bucket b of `ix` other than
    /// `skip`, appending an overflow bucket when the chain is full; nil when
    /// no overflow bucket is left (the index is full). Preconditions: b's
    /// stripe is locked and its version is odd, or `ix` is a resize's, not
    /// yet published.
    func freeSlot(in ix: FastIndex, home b: Int, skip: (Int, Int)? = nil) -> (Int, Int)? {
        var bucket = b
        while true {
            for k in 1...Self.slotsPerBucket where ix.word(bucket, k).pointee.load(ordering: .relaxed) == 0 {
                if let s = skip, s.0 == bucket && s.1 == k { continue }
                return (bucket, k)
            }
            let w = ix.word(bucket, 0).pointee.load(ordering: .relaxed)
            let link = w &>> 32
            if link != 0 { bucket = Int(truncatingIfNeeded: link) &- 1; continue }
            let o = ix.overflowUsed.pointee.add(1, ordering: .relaxed).newValue - 1
            guard o < ix.overflowCapacity else {
                ix.overflowUsed.pointee.subtract(1, ordering: .relaxed)
                return nil
            }
            let ob = ix.homeBuckets + o
            ix.word(bucket, 0).pointee.store((UInt64(ob + 1) << 32) | (w & 0xFFFF_FFFF), ordering: .releasing)
            return (ob, 1)
        }
    }

    /// Puts entry i's slots into the index `at` holds. False when the
    /// index is full (nothing is published then). Preconditions: `at` was
    /// taken by `lockHomes(h1, h2)` and is held; entry i is filled and
    /// unpublished.
    func publish(_ i: UInt32, layout: SlotLayout, h1: UInt64, h2: UInt64, at l: LockedHomes) -> Bool {
        let ix = l.ix, b1 = l.b1, b2 = l.b2
        beginWrite(b1, in: ix)
        if b2 != b1 { beginWrite(b2, in: ix) }
        defer {
            endWrite(b1, in: ix)
            if b2 != b1 { endWrite(b2, in: ix) }
        }
        guard let p1 = freeSlot(in: ix, home: b1) else { return false }
        var p2: (Int, Int)? = nil
        if layout == .pair {
            guard let q = freeSlot(in: ix, home: b2, skip: b1 == b2 ? p1 : nil) else { return false }
            p2 = q
        }
        let e = pool.entry(i)
        e.flagsWord.pointee.bitwiseOr(FastEntry.Flags.published, ordering: .releasing)
        ix.word(p1.0, p1.1).pointee.store(Self.slot(entry: i, kind: layout == .symmetric ? .both : .original, tag: Self.tag(h1)),
                                          ordering: .releasing)
        if let p2 { ix.word(p2.0, p2.1).pointee.store(Self.slot(entry: i, kind: .reply, tag: Self.tag(h2)), ordering: .releasing) }
        return true
    }

    /// The home buckets' hashes of entry e's slots (the second equals the
    /// first unless the layout is a pair).
    @inline(__always)
    func slotHashes(_ e: UnsafeMutablePointer<FastEntry>) -> (UInt64, UInt64) {
        let h1 = hash(e.original)
        return (h1, e.layout == .pair ? hash(e.reply) : h1)
    }

    /// Clears the slot holding entry i in the chain of home b of `ix`.
    /// Preconditions: b's stripe is locked, `ix` is current and b's
    /// version is odd.
    func clearSlot(in ix: FastIndex, home b: Int, entry i: UInt32, kind: SlotKind) {
        var bucket = b
        while true {
            for k in 1...Self.slotsPerBucket {
                let s = ix.word(bucket, k).pointee.load(ordering: .relaxed)
                if s != 0 && Self.entryIndex(s) == i && Self.kind(s) == kind {
                    ix.word(bucket, k).pointee.store(0, ordering: .releasing)
                    return
                }
            }
            let link = ix.word(bucket, 0).pointee.load(ordering: .relaxed) &>> 32
            precondition(link != 0, "entry \(i) has no \(kind) slot in the chain of bucket \(b)")
            bucket = Int(truncatingIfNeeded: link) &- 1
        }
    }

    /// Takes entry i, whose slots sit in the chains of the homes `l`
    /// holds (taken for its `slotHashes`), out of the index and retires it.
    /// Preconditions: `l` is held; the entry is published.
    func removeLocked(_ i: UInt32, at l: LockedHomes, kind: RemovalKind, _ ctx: inout WorkerContext) {
        let e = pool.entry(i)
        let ix = l.ix, b1 = l.b1, b2 = l.b2
        beginWrite(b1, in: ix)
        if b2 != b1 { beginWrite(b2, in: ix) }
        switch e.layout {
        case .symmetric: clearSlot(in: ix, home: b1, entry: i, kind: .both)
        case .single: clearSlot(in: ix, home: b1, entry: i, kind: .original)
        case .pair:
            clearSlot(in: ix, home: b1, entry: i, kind: .original)
            clearSlot(in: ix, home: b2, entry: i, kind: .reply)
        }
        e.flagsWord.pointee.bitwiseAnd(~FastEntry.Flags.published, ordering: .releasing)
        endWrite(b1, in: ix)
        if b2 != b1 { endWrite(b2, in: ix) }
        ctx.stats.countRemoval(kind)
        limit.release()
        reclaimer.retire(i, &ctx)
    }

    /// Removes entry i if it is still published and `condition` holds
    /// under its stripe locks. Preconditions: no lock is held; this thread
    /// has not passed a quiescent point since it read i from a slot.
    @discardableResult
    func remove(_ i: UInt32, kind: RemovalKind, reason: RemovalReason? = nil, now: Int64, _ ctx: inout WorkerContext,
                if condition: (UnsafeMutablePointer<FastEntry>, inout WorkerContext) -> Bool) -> Bool {
        let e = pool.entry(i)
        let (h1, h2) = slotHashes(e)
        let l = lockHomes(h1, h2, &ctx)
        defer { unlockStripes(l.held, &ctx) }
        guard e.isPublished, condition(e, &ctx) else { return false }
        if ctx.tracingEvents { traceDestroyed(e, reason: reason ?? kind.reason, now: now, &ctx) }
        removeLocked(i, at: l, kind: kind, &ctx)
        return true
    }

    /// Creates a connection for a packet whose lookup in `ix` missed (or
    /// found its tuple expired). `seen` is the home bucket's version the
    /// missing lookup was valid for: unchanged under the lock in the same
    /// index, the tuple is still absent and need not be searched again.
    @inline(never)
    func create(_ p: Packet, hash h: UInt64, lookedUpIn ix: FastIndex, now: Int64, seen: UInt64?,
                _ ctx: inout WorkerContext) -> PacketOutcome {
        let reply = p.replyForNewConnection
        let layout: SlotLayout = reply == p.id.reversed ? .symmetric : (reply == p.id ? .single : .pair)
        let hr = layout == .pair ? hash(reply) : h
        guard reserveSlot(in: ix, home: ix.home(h), now: now, &ctx) else {
            ctx.stats.drop &+= 1
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        }
        var inserted = false
        // A reserved slot that is not used (clash, insert_failed) is given back.
        defer { if !inserted { limit.release() } }
        // The entry is filled before it is visible: no lock needed.
        let i = pool.take(generation, &ctx)
        let e = pool.entry(i)
        // The flags first: the tuple area and the NAT side table are read
        // by the layout they name.
        e.flagsWord.pointee.store((p.nat ? FastEntry.Flags.nat : 0) | layout.rawValue << FastEntry.Flags.layoutShift
                              | UInt32(p.hook.rawValue) | compactFlag, ordering: .relaxed)
        e.setOriginal(p.id, pool.layout)
        if p.nat {
            pool.prepareNAT(i, &ctx)
            EntryPool.natAddress(of: e).pointee = p.natAddr
        }
        e.natPort = p.natPort
        e.pointee.tcb = TCB()
        e.lastUsedWord.pointee.store(now, ordering: .relaxed)
        var seen = seen
        while true {
            // The injected descending-lock-order fault reverses this insert's order.
            let l = lockHomes(h, hr, descending: descendingLocks, &ctx)
            let held = l.held, lx = l.ix, b1 = l.b1, b2 = l.b2
            // A version seen in an index a resize has replaced says nothing.
            if lx.words != ix.words { seen = nil }
            let unchanged = seen != nil && lx.word(b1, 0).pointee.load(ordering: .relaxed) == seen!
            var conflict: (hit: FastHit, sameTuple: Bool)? = nil
            if !unchanged,
               let x = scan(p.id, in: lx, home: b1, tag: Self.tag(h), first: lx.word(b1, 0).pointee.load(ordering: .relaxed)).0 {
                conflict = (x, true)
            } else if let y = scan(reply, in: lx, home: b2, tag: Self.tag(hr),
                                   first: lx.word(b2, 0).pointee.load(ordering: .relaxed)).0 {
                conflict = (y, false)
            }
            if let c = conflict {
                let x = pool.entry(c.hit.entry)
                unlockStripes(held, &ctx)
                if remaining(x, now: now) >= 0 {
                    pool.giveBack(i, &ctx)
                    if c.sameTuple {
                        // Another worker created it since the lookup.
                        ctx.stats.insertClash &+= 1
                        if ctx.tracing {
                            return .tracked(tracedRefreshAndTrack(x, reply: c.hit.direction == .reply, p, now: now, &ctx))
                        }
                        return .tracked(refreshAndTrack(x, p, now: now, &ctx))
                    }
                    // The reply tuple belongs to another connection.
                    ctx.stats.insertFailed &+= 1
                    if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
                    return .notTracked
                }
                // Expired: it gives up its place (under its own stripes), then retry.
                remove(c.hit.entry, kind: .inline, now: now, &ctx) { x, _ in remaining(x, now: now) < 0 }
                seen = nil
                continue
            }
            // `fixed` hands the creating packet to the tracker.
            initialiseTracker(e, p, &ctx)
            guard publish(i, layout: layout, h1: h, h2: hr, at: l) else {
                unlockStripes(held, &ctx)
                ctx.stats.trackerInit &-= 1
                pool.giveBack(i, &ctx)
                ctx.stats.drop &+= 1
                if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
                return .notTracked
            }
            unlockStripes(held, &ctx)
            ctx.stats.insert &+= 1
            ctx.noteCreated()
            inserted = true
            limit.noteInserted()
            if ctx.tracing { traceCreated(e, p, now: now, &ctx) }
            return .created
        }
    }

    // MARK: Connection limit

    /// Takes one of the `--max-connections` places before an insert,
    /// early-dropping while the table is full. Preconditions: no lock is held.
    func reserveSlot(in ix: FastIndex, home b: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        limit.reserve { earlyDrop(in: ix, from: b, now: now, &ctx) }
    }

    /// At the limit: removes one connection that is not established, found
    /// through its first slot in home bucket b of `ix` or the next few
    /// (Linux's early drop). Preconditions: no lock is held.
    func earlyDrop(in ix: FastIndex, from b: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        for k in 0..<min(config.earlyDropBuckets, ix.homeBuckets) {
            var bucket = (b + k) & Int(ix.mask)
            while true {
                for j in 1...Self.slotsPerBucket {
                    let s = ix.word(bucket, j).pointee.load(ordering: .acquiring)
                    guard s != 0, Self.kind(s) != .reply else { continue }
                    let dropped = remove(Self.entryIndex(s), kind: .other, reason: .earlyDrop, now: now, &ctx) { e, ctx in
                        lockEntry(e, &ctx)
                        defer { unlockEntry(e, &ctx) }
                        return e.pointee.tcb.state != .alive && e.flagBits & FastEntry.Flags.udpReplied == 0
                    }
                    if dropped {
                        ctx.stats.earlyDrop &+= 1
                        return true
                    }
                }
                let link = ix.word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
                if link == 0 { break }
                bucket = Int(truncatingIfNeeded: link) &- 1
            }
        }
        return false
    }
}
