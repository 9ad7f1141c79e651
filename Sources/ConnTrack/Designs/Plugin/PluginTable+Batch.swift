import CTBDesignABI

// The packet path: one `process_batch` call per batch, and every figure
// counted here from the outcomes, in packet order, exactly as a built-in
// design counts them while it works.
extension PluginTable {
    /// Not used by the harness (it calls `processBatch`): one packet as a
    /// batch of one.
    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        let t = thread()
        t.pointee.reserve(1)
        var cp = p.abi
        cp.timestamp = clock.now()
        t.pointee.packets[0] = cp
        t.pointee.outcomes[0] = ctb_outcome()
        run(t, count: 1, flags: CTB_BATCH_PACKET_TIME, now: cp.timestamp, &ctx)
        let o = t.pointee.outcomes[0]
        count(o, &ctx)
        switch UInt32(o.kind) {
        case CTB_OUT_CREATED.rawValue: return .created
        case CTB_OUT_FOUND.rawValue, CTB_OUT_CLASH.rawValue:
            return .tracked(o.tracker < 6 ? TrackerResult(rawValue: o.tracker) : nil)
        default: return .notTracked
        }
    }

    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        let start = batch.position, end = batch.end, stop = batch.stopAtOrAfter
        // The loop's rule: stop before the first packet at or after `stop`.
        var last = start
        while last < end && batch.packets[last].timestamp < stop { last += 1 }
        let n = last - start
        guard n > 0 else { return }
        let t = thread()
        t.pointee.reserve(n)
        let pk = t.pointee.packets, out = t.pointee.outcomes
        for j in 0..<n { pk[j] = batch.packets[start + j].abi }
        out.update(repeating: ctb_outcome(), count: n)
        // The batch's now, read as the built-in loop reads its clock.
        var flags: UInt32 = 0
        var now: Int64
        switch batch.clock {
        case .virtual:
            if let f = batch.frozenNow { now = f } else { flags = CTB_BATCH_PACKET_TIME; now = pk[n - 1].timestamp }
        case .real:
            now = MonotonicClock.read()
        case .coarse:
            batch.coarse.tick()
            now = batch.coarse.current
        }
        let t0 = MonotonicClock.read()
        run(t, count: n, flags: flags, now: now, &ctx)
        let dt = UInt64(max(0, MonotonicClock.read() - t0))
        for j in 0..<n { count(out[j], &ctx) }
        // Latency: the packets the loop would have timed get the batch's
        // mean per packet (the plugin is called once per batch).
        var c = batch.countdown
        let every = batch.sampleEvery
        var samples = 0
        if n >= c { samples = 1 + (n - c) / every; c = every - (n - c) % every } else { c -= n }
        batch.countdown = c
        let perPacket = dt / UInt64(n)
        while samples > 0 && batch.latencyCount < batch.latencies.count {
            batch.latencies[batch.latencyCount] = perPacket
            batch.latencyCount += 1
            samples -= 1
        }
        batch.position = last
    }

    @inline(__always)
    func run(_ t: UnsafeMutablePointer<PluginThread>, count n: Int, flags: UInt32, now: Int64, _ ctx: inout WorkerContext) {
        var b = ctb_batch(packets: t.pointee.packets, outcomes: t.pointee.outcomes, count: UInt32(n), flags: flags, now: now)
        var counters = ctb_counters()
        let w = t.pointee.worker
        let base = ctx.trace?.pointee.index
        call(PluginEntry.processBatch, &ctx, batch: (UnsafePointer(t.pointee.packets), n, now, flags & CTB_BATCH_PACKET_TIME != 0)) {
            d.pointee.process_batch(handle, w, &b, &counters, $0)
        }
        if let base { traceVerdicts(t, count: n, base: base, &ctx) }
        ctx.stats.searchRestart &+= counters.search_restart
        var created = 0, removed = 0
        for j in 0..<n {
            let o = t.pointee.outcomes[j]
            if UInt32(o.kind) == CTB_OUT_CREATED.rawValue { created += 1 }
            removed += Int(o.removed_inline) + Int(o.early_dropped)
        }
        if created != removed { net.add(created - removed, ordering: .relaxed) }
    }

    /// Each packet's verdict from its outcome, by the rules a built-in
    /// design follows (`Verdict`): created `new|trk`; tracked with a
    /// connection OVS's flags from the direction and the state after the
    /// packet; refused at insert `new|trk` (not committed); not tracked `0`.
    /// The lane's position goes back to the batch's first packet first:
    /// events the plugin reported moved it to theirs.
    /// Preconditions: tracing.
    @inline(never)
    func traceVerdicts(_ t: UnsafeMutablePointer<PluginThread>, count n: Int, base: UInt64, _ ctx: inout WorkerContext) {
        ctx.trace!.pointee.index = base
        for j in 0..<n {
            let o = t.pointee.outcomes[j], p = t.pointee.packets[j]
            let v: Verdict
            switch UInt32(o.kind) {
            case CTB_OUT_CREATED.rawValue: v = .created(dnat: p.nat != 0)
            case CTB_OUT_FOUND.rawValue, CTB_OUT_CLASH.rawValue:
                v = .tracked(reply: UInt32(o.direction) & CTB_DIR_REPLY != 0, replied: !PluginHost.unreplied(o.trace_state),
                             invalid: o.tracker == TrackerResult.drop.rawValue, dnat: UInt32(o.direction) & CTB_DIR_NAT != 0)
            case CTB_OUT_INSERT_FAILED.rawValue, CTB_OUT_DROP_LIMIT.rawValue: v = .notCommitted
            default: v = []
            }
            ctx.trace!.pointee.verdict(v, timestamp: p.timestamp)
        }
    }

    /// Counts one outcome: removals first (they happen before the packet's
    /// creation, so the live peak is right), then the packet's own figures.
    @inline(__always)
    func count(_ o: ctb_outcome, _ ctx: inout WorkerContext) {
        ctx.stats.packets &+= 1
        let kind = UInt32(o.kind)
        if o.lookups > 0 {
            ctx.stats.lookups &+= UInt64(o.lookups)
            ctx.stats.chain.record(Int(o.walked))
            if kind == CTB_OUT_FOUND.rawValue {
                ctx.stats.found &+= 1
                ctx.stats.notFound &+= UInt64(o.lookups) - 1
            } else {
                ctx.stats.notFound &+= UInt64(o.lookups)
            }
        }
        ctx.stats.removedInline &+= UInt64(o.removed_inline)
        ctx.stats.deferredByLockOrder &+= UInt64(o.deferred)
        if o.early_dropped > 0 {
            ctx.stats.earlyDrop &+= UInt64(o.early_dropped)
            ctx.stats.removedOther &+= UInt64(o.early_dropped)
        }
        switch kind {
        case CTB_OUT_CREATED.rawValue: ctx.stats.insert &+= 1; ctx.noteCreated()
        case CTB_OUT_CLASH.rawValue: ctx.stats.insertClash &+= 1
        case CTB_OUT_INSERT_FAILED.rawValue: ctx.stats.insertFailed &+= 1
        case CTB_OUT_DROP_LIMIT.rawValue: ctx.stats.drop &+= 1
        default: break
        }
        if o.tracker < 6 {
            ctx.stats.trackerResults[Int(o.tracker)] &+= 1
        } else if UInt32(o.tracker) == CTB_TRACKER_INIT.rawValue {
            ctx.stats.trackerInit &+= 1
        }
    }
}
