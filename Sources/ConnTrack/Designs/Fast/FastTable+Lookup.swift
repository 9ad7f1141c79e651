/// A slot that matched a tuple.
struct FastHit {
    var entry: UInt32
    var direction: Direction
}

extension FastTable {
    /// Whether entry `e`, through a slot of `kind`, stands for tuple `id`.
    /// The entry's key is immutable while it is published and is never
    /// reused before this thread's next quiescent point.
    @inline(__always)
    func match(_ e: UnsafeMutablePointer<FastEntry>, _ kind: SlotKind, _ id: TupleID) -> Direction? {
        switch kind {
        case .both:
            if e.original == id { return .original }
            return e.original.reversed == id ? .reply : nil
        case .original:
            return e.original == id ? .original : nil
        case .reply:
            return e.reply == id ? .reply : nil
        }
    }

    /// Scans the chain of home bucket `b` of index `ix` for `id`, without
    /// a lock. Returns the hit and how many entries it compared.
    @inline(__always)
    func scan(_ id: TupleID, in ix: FastIndex, home b: Int, tag: UInt64, first w0: UInt64) -> (FastHit?, Int) {
        var w = w0
        var bucket = b
        var compared = 0
        while true {
            for k in 1...Self.slotsPerBucket {
                let s = ix.word(bucket, k).pointee.load(ordering: .acquiring)
                if s != 0 && s &>> 48 == tag {
                    compared &+= 1
                    let i = Self.entryIndex(s)
                    if let d = match(pool.entry(i), Self.kind(s), id) { return (FastHit(entry: i, direction: d), compared) }
                }
            }
            let link = w &>> 32
            if link == 0 { return (nil, compared) }
            bucket = Int(truncatingIfNeeded: link) &- 1
            w = ix.word(bucket, 0).pointee.load(ordering: .acquiring)
        }
    }

    /// The lock-free lookup: reads the home bucket's version, scans its
    /// chain, and validates the version; a writer in between (odd or
    /// changed version) restarts it. Returns the hit and the version the
    /// scan was valid for, in index `ix`.
    @inline(__always)
    func find(_ id: TupleID, hash h: UInt64, in ix: FastIndex, _ ctx: inout WorkerContext) -> (FastHit?, UInt64) {
        let b = ix.home(h), tag = Self.tag(h)
        while true {
            if let found = findOnce(id, in: ix, home: b, tag: tag, &ctx) { return found }
            ctx.stats.searchRestart &+= 1
        }
    }

    /// One attempt of `find`: the hit and the version the scan was valid
    /// for, or nil when a writer was in the chain (odd or changed version)
    /// and the lookup must start again.
    @inline(__always)
    func findOnce(_ id: TupleID, in ix: FastIndex, home b: Int, tag: UInt64,
                  _ ctx: inout WorkerContext) -> (FastHit?, UInt64)? {
        let w0 = ix.word(b, 0).pointee.load(ordering: .acquiring)
        guard w0 & 1 == 0 else { return nil }
        let (hit, compared) = scan(id, in: ix, home: b, tag: tag, first: w0)
        guard ix.word(b, 0).pointee.load(ordering: .acquiring) == w0 else { return nil }
        ctx.stats.chain.record(compared)
        return (hit, w0)
    }

    /// Looks a tuple up as a packet would (without refreshing it); nil when
    /// absent or expired at `now`.
    public func lookup(_ id: TupleID, now: Int64) -> (ConnectionRecord, Direction)? {
        var ctx = WorkerContext(name: "lookup", checkLockOrder: false)
        guard let hit = find(id, hash: hash(id), in: index, &ctx).0 else { return nil }
        let e = pool.entry(hit.entry)
        guard remaining(e, now: now) >= 0 else { return nil }
        return (lockedRecord(e, now: now, &ctx), hit.direction)
    }

    /// `fixed`'s refresh and tracking of a found connection
    /// (`refreshAndTrack`), with the same results and counters; only a
    /// packet that can change the state takes the entry lock: every TCP
    /// segment, and a UDP packet before the connection is initialised or
    /// replied.
    @inline(__always)
    func refreshAndTrack(_ e: UnsafeMutablePointer<FastEntry>, _ p: Packet, now: Int64,
                         _ ctx: inout WorkerContext) -> TrackerResult? {
        // Written only when it moves: concurrent workers keep the latest.
        if e.lastUsedWord.pointee.load(ordering: .relaxed) < now { e.lastUsedWord.pointee.store(now, ordering: .relaxed) }
        if p.id.transProto == .udp {
            let f = e.flagBits
            if f & FastEntry.Flags.udpInitialised != 0
                && (f & FastEntry.Flags.udpReplied != 0 || UInt32(p.hook.rawValue) == f & FastEntry.Flags.hookMask) {
                ctx.stats.trackerResults[Int(TrackerResult.alive.rawValue)] &+= 1
                return .alive
            }
            lockEntry(e, &ctx)
            defer { unlockEntry(e, &ctx) }
            let g = e.flagBits
            if g & FastEntry.Flags.udpInitialised == 0 {
                initialiseTracker(e, p, &ctx)
                return nil
            }
            if UInt32(p.hook.rawValue) != g & FastEntry.Flags.hookMask {
                e.flagsWord.pointee.bitwiseOr(FastEntry.Flags.udpReplied, ordering: .releasing)
                refreshTimeoutClass(e)
            }
            ctx.stats.trackerResults[Int(TrackerResult.alive.rawValue)] &+= 1
            return .alive
        }
        // The injected fault updates the tracker without the lock (a data
        // race the ThreadSanitizer self-test must report).
        if !skipEntryLock { lockEntry(e, &ctx) }
        defer { if !skipEntryLock { unlockEntry(e, &ctx) } }
        if e.pointee.tcb.isEmpty {
            initialiseTracker(e, p, &ctx)
            return nil
        }
        let outbound = UInt32(p.hook.rawValue) == e.flagBits & FastEntry.Flags.hookMask
        let before = e.pointee.tcb.state
        let r = outbound ? e.pointee.tcb.updateOutbound(p.tcp) : e.pointee.tcb.updateInbound(p.tcp)
        if e.pointee.tcb.state != before || timeouts.mode != .seed {
            refreshTimeoutClass(e)
        }
        ctx.stats.trackerResults[Int(r.rawValue)] &+= 1
        return r
    }

    /// `initialiseTracker`: the packet's hook becomes the outbound side.
    /// Preconditions: the entry lock is held, or the entry is unpublished.
    @inline(__always)
    func initialiseTracker(_ e: UnsafeMutablePointer<FastEntry>, _ p: Packet, _ ctx: inout WorkerContext) {
        let f = e.flagsWord.pointee.load(ordering: .relaxed)
        var g = (f & ~FastEntry.Flags.hookMask) | UInt32(p.hook.rawValue)
        if p.id.transProto == .udp {
            g |= FastEntry.Flags.udpInitialised
        } else {
            e.pointee.tcb.initialise(p.tcp)
        }
        e.flagsWord.pointee.store(g, ordering: .releasing)
        refreshTimeoutClass(e)
        ctx.stats.trackerInit &+= 1
    }

    /// The connection as a record, read under its entry lock.
    func lockedRecord(_ e: UnsafeMutablePointer<FastEntry>, now: Int64, _ ctx: inout WorkerContext) -> ConnectionRecord {
        lockEntry(e, &ctx)
        defer { unlockEntry(e, &ctx) }
        return ConnectionRecord(original: e.original, reply: e.reply, hook: e.hook,
                                nat: e.flagBits & FastEntry.Flags.nat != 0, tcb: e.pointee.tcb, udp: e.udpState,
                                lastUsed: e.lastUsedWord.pointee.load(ordering: .relaxed), timeoutLeft: remaining(e, now: now))
    }
}

// The trace's reports (`--verdicts`, `--events`; docs/verdicts-and-events.md).
extension FastTable {
    /// `refreshAndTrack` with the trace's reports: an [UPDATE] when the
    /// entry's `ConnTraceState` changed, and the packet's verdict. The
    /// state is read under the entry lock before (events only) and after
    /// the update: two reads, as a flow's packets are on one worker and
    /// nothing comes between them; the whole record only for an event.
    /// Preconditions: no lock is held; tracing.
    @inline(never)
    func tracedRefreshAndTrack(_ e: UnsafeMutablePointer<FastEntry>, reply: Bool, _ p: Packet, now: Int64,
                               _ ctx: inout WorkerContext) -> TrackerResult? {
        let events = ctx.tracingEvents
        let before = events ? lockedTraceState(e, p.id.transProto, &ctx) : nil
        let r = refreshAndTrack(e, p, now: now, &ctx)
        let after = lockedTraceState(e, p.id.transProto, &ctx)
        if events && after != before { ctx.traceEvent(.update, lockedRecord(e, now: now, &ctx), now: now) }
        ctx.traceVerdict(.tracked(reply: reply, replied: !after.unreplied, invalid: r == .drop,
                                  dnat: e.flagBits & FastEntry.Flags.nat != 0), p)
        return r
    }

    /// The entry's state as events compare it, read under its lock.
    @inline(__always)
    func lockedTraceState(_ e: UnsafeMutablePointer<FastEntry>, _ proto: TransProto,
                          _ ctx: inout WorkerContext) -> ConnTraceState {
        lockEntry(e, &ctx)
        defer { unlockEntry(e, &ctx) }
        return ConnTraceState(proto: proto, tcb: e.pointee.tcb, udp: e.udpState)
    }

    /// [NEW] for entry e just published by packet p, and `new|trk`.
    /// Preconditions: no lock is held; tracing.
    @inline(never)
    func traceCreated(_ e: UnsafeMutablePointer<FastEntry>, _ p: Packet, now: Int64, _ ctx: inout WorkerContext) {
        if ctx.tracingEvents { ctx.traceEvent(.new, lockedRecord(e, now: now, &ctx), now: now) }
        ctx.traceVerdict(.created(dnat: p.nat), p)
    }

    /// [DESTROY] for entry e, about to be removed. Preconditions: its
    /// stripes are locked, its entry lock is not; tracing events.
    @inline(never)
    func traceDestroyed(_ e: UnsafeMutablePointer<FastEntry>, reason: RemovalReason, now: Int64, _ ctx: inout WorkerContext) {
        ctx.traceEvent(.destroy, lockedRecord(e, now: now, &ctx), now: now, reason: reason)
    }
}
