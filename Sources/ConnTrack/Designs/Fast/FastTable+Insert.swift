import struct Synchronization.Atomic

extension FastTable {
    /// The packet path for one packet whose tuple hashes to `h`: a
    /// lock-free lookup, then refresh and track, or create.
    @inline(__always)
    func handle(_ p: Packet, hash h: UInt64, now: Int64, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        ctx.stats.lookups &+= 1
        // `--ipv4-only`: a compact slot cannot hold an IPv6 tuple, so the
        // packet is not tracked and is counted as a drop (as a full table's).
        if ipv4Only && !EntryLayout.fitsCompact(p.id) { return dropUnfit(p, &ctx) }
        let (hit, seen) = find(p.id, hash: h, &ctx)
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
        return create(p, hash: h, now: now, seen: hit == nil ? seen : nil, &ctx)
    }

    @inline(never)
    func dropUnfit(_ p: Packet, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.notFound &+= 1
        ctx.stats.drop &+= 1
        if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
        return .notTracked
    }

    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        handle(p, hash: hash(p.id), now: clock.now(), &ctx)
    }

    // MARK: Version (seqlock) writes

    /// Makes home bucket b's version odd: readers of its chain restart.
    /// Preconditions: b's stripe is locked.
    @inline(__always)
    func beginWrite(_ b: Int) {
        let w = word(b, 0).pointee.load(ordering: .relaxed)
        assert(w & 1 == 0, "bucket \(b) is already being written")
        word(b, 0).pointee.store(Self.bumpVersion(w), ordering: .relaxed)
    }

    /// Makes home bucket b's version even again (and new). Preconditions:
    /// b's stripe is locked and `beginWrite(b)` was called.
    @inline(__always)
    func endWrite(_ b: Int) {
        let w = word(b, 0).pointee.load(ordering: .relaxed)
        word(b, 0).pointee.store(Self.bumpVersion(w), ordering: .releasing)
    }

    /// Adds one to the version in the low 32 bits, keeping the link.
    @inline(__always)
    static func bumpVersion(_ w: UInt64) -> UInt64 {
        (w & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(truncatingIfNeeded: w) &+ 1)
    }

    /// An empty slot in the chain of home bucket b other than `skip`,
    /// appending an overflow bucket when the chain is full; nil when no
    /// overflow bucket is left (the table is full). Preconditions: b's
    /// stripe is locked and its version is odd.
    func freeSlot(home b: Int, skip: (Int, Int)? = nil) -> (Int, Int)? {
        var bucket = b
        while true {
            for k in 1...Self.slotsPerBucket where word(bucket, k).pointee.load(ordering: .relaxed) == 0 {
                if let s = skip, s.0 == bucket && s.1 == k { continue }
                return (bucket, k)
            }
            let w = word(bucket, 0).pointee.load(ordering: .relaxed)
            let link = w &>> 32
            if link != 0 { bucket = Int(truncatingIfNeeded: link) &- 1; continue }
            let o = overflowUsed.add(1, ordering: .relaxed).newValue - 1
            guard o < overflowCapacity else {
                overflowUsed.subtract(1, ordering: .relaxed)
                return nil
            }
            let ob = homeBuckets + o
            word(bucket, 0).pointee.store((UInt64(ob + 1) << 32) | (w & 0xFFFF_FFFF), ordering: .releasing)
            return (ob, 1)
        }
    }

    /// Puts entry i's slots into the index. False when the table is full
    /// (nothing is published then). Preconditions: the stripes of homes
    /// h1 and h2 are locked; entry i is filled and unpublished.
    func publish(_ i: UInt32, layout: SlotLayout, h1: UInt64, h2: UInt64) -> Bool {
        let b1 = home(h1), b2 = home(h2)
        beginWrite(b1)
        if b2 != b1 { beginWrite(b2) }
        defer {
            endWrite(b1)
            if b2 != b1 { endWrite(b2) }
        }
        guard let p1 = freeSlot(home: b1) else { return false }
        var p2: (Int, Int)? = nil
        if layout == .pair {
            guard let q = freeSlot(home: b2, skip: b1 == b2 ? p1 : nil) else { return false }
            p2 = q
        }
        let e = pool.entry(i)
        e.flagsWord.pointee.bitwiseOr(FastEntry.Flags.published, ordering: .releasing)
        word(p1.0, p1.1).pointee.store(Self.slot(entry: i, kind: layout == .symmetric ? .both : .original, tag: Self.tag(h1)),
                               ordering: .releasing)
        if let p2 { word(p2.0, p2.1).pointee.store(Self.slot(entry: i, kind: .reply, tag: Self.tag(h2)), ordering: .releasing) }
        return true
    }

    /// The home buckets' hashes of entry e's slots (the second equals the
    /// first unless the layout is a pair).
    @inline(__always)
    func slotHashes(_ e: UnsafeMutablePointer<FastEntry>) -> (UInt64, UInt64) {
        let h1 = hash(e.original)
        return (h1, e.layout == .pair ? hash(e.reply) : h1)
    }

    /// Clears the slot holding entry i in the chain of home b.
    /// Preconditions: b's stripe is locked and its version is odd.
    func clearSlot(home b: Int, entry i: UInt32, kind: SlotKind) {
        var bucket = b
        while true {
            for k in 1...Self.slotsPerBucket {
                let s = word(bucket, k).pointee.load(ordering: .relaxed)
                if s != 0 && Self.entryIndex(s) == i && Self.kind(s) == kind {
                    word(bucket, k).pointee.store(0, ordering: .releasing)
                    return
                }
            }
            let link = word(bucket, 0).pointee.load(ordering: .relaxed) &>> 32
            precondition(link != 0, "entry \(i) has no \(kind) slot in the chain of bucket \(b)")
            bucket = Int(truncatingIfNeeded: link) &- 1
        }
    }

    /// Takes entry i, whose slots sit in the chains of homes b1 and b2
    /// (`slotHashes`), out of the index and retires it. Preconditions: the
    /// stripes of both homes are locked; it is published.
    func removeLocked(_ i: UInt32, homes b1: Int, _ b2: Int, kind: RemovalKind, _ ctx: inout WorkerContext) {
        let e = pool.entry(i)
        beginWrite(b1)
        if b2 != b1 { beginWrite(b2) }
        switch e.layout {
        case .symmetric: clearSlot(home: b1, entry: i, kind: .both)
        case .single: clearSlot(home: b1, entry: i, kind: .original)
        case .pair:
            clearSlot(home: b1, entry: i, kind: .original)
            clearSlot(home: b2, entry: i, kind: .reply)
        }
        e.flagsWord.pointee.bitwiseAnd(~FastEntry.Flags.published, ordering: .releasing)
        endWrite(b1)
        if b2 != b1 { endWrite(b2) }
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
        let b1 = home(h1), b2 = home(h2)
        let held = lockStripes(b1, b2, &ctx)
        defer { unlockStripes(held, &ctx) }
        guard e.isPublished, condition(e, &ctx) else { return false }
        if ctx.tracingEvents { traceDestroyed(e, reason: reason ?? kind.reason, now: now, &ctx) }
        removeLocked(i, homes: b1, b2, kind: kind, &ctx)
        return true
    }

    /// Creates a connection for a packet whose lookup missed (or found its
    /// tuple expired). `seen` is the home bucket's version the missing
    /// lookup was valid for: unchanged under the lock, the tuple is still
    /// absent and need not be searched again.
    @inline(never)
    func create(_ p: Packet, hash h: UInt64, now: Int64, seen: UInt64?, _ ctx: inout WorkerContext) -> PacketOutcome {
        let reply = p.replyForNewConnection
        let layout: SlotLayout = reply == p.id.reversed ? .symmetric : (reply == p.id ? .single : .pair)
        let hr = layout == .pair ? hash(reply) : h
        let b1 = home(h), b2 = home(hr)
        guard reserveSlot(home: b1, now: now, &ctx) else {
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
            let held = lockStripes(b1, b2, descending: descendingLocks, &ctx)
            let unchanged = seen != nil && word(b1, 0).pointee.load(ordering: .relaxed) == seen!
            var conflict: (hit: FastHit, sameTuple: Bool)? = nil
            if !unchanged, let x = scan(p.id, home: b1, tag: Self.tag(h), first: word(b1, 0).pointee.load(ordering: .relaxed)).0 {
                conflict = (x, true)
            } else if let y = scan(reply, home: b2, tag: Self.tag(hr), first: word(b2, 0).pointee.load(ordering: .relaxed)).0 {
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
            guard publish(i, layout: layout, h1: h, h2: hr) else {
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
    func reserveSlot(home b: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        limit.reserve { earlyDrop(from: b, now: now, &ctx) }
    }

    /// At the limit: removes one connection that is not established, found
    /// through its first slot in home bucket b or the next few (Linux's
    /// early drop). Preconditions: no lock is held.
    func earlyDrop(from b: Int, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        for k in 0..<min(config.earlyDropBuckets, homeBuckets) {
            var bucket = (b + k) & Int(mask)
            while true {
                for j in 1...Self.slotsPerBucket {
                    let s = word(bucket, j).pointee.load(ordering: .acquiring)
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
                let link = word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
                if link == 0 { break }
                bucket = Int(truncatingIfNeeded: link) &- 1
            }
        }
        return false
    }
}
