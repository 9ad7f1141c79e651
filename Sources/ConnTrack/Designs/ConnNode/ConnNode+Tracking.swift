// The per-connection work every table design does under the connection
// lock: expiry, refresh and tracking.

/// Nanoseconds until `c` times out (negative: expired); the seed's
/// `timedOut` is `timeRemaining < 0`. Preconditions: c's lock is held.
@inline(__always)
func timeRemaining(_ c: UnsafeMutablePointer<ConnNode>, _ timeouts: Timeouts, now: Int64) -> Int64 {
    let t = timeouts.timeout(proto: c.pointee.original.id.transProto, tcb: c.pointee.tcb, udp: c.pointee.udp)
    return c.pointee.lastUsed &+ t &- now
}

/// Initialises the tracker from `p`, whose hook becomes the outbound side.
/// Preconditions: c's lock is held.
@inline(__always)
func initialiseTracker(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet, _ ctx: inout WorkerContext) {
    c.pointee.tcbHook = p.hook
    if p.id.transProto == .udp {
        c.pointee.udp.initialised = true
    } else {
        c.pointee.tcb.initialise(p.tcp)
    }
    ctx.stats.trackerInit &+= 1
}

/// `refreshAndTrack` under the connection's lock (every design's update of
/// a found connection), for a packet that matched tuple `t`; while
/// tracing, it also reports the packet's verdict and any [UPDATE].
@inline(__always)
func lockedRefreshAndTrack(_ t: UnsafeMutablePointer<TupleNode>, _ p: Packet, now: Int64, timeouts: Timeouts,
                           _ ctx: inout WorkerContext) -> TrackerResult? {
    let c = t.pointee.conn
    lockConnection(c, &ctx)
    defer { unlockConnection(c, &ctx) }
    if ctx.tracing { return tracedRefreshAndTrack(c, reply: t.pointee.direction == .reply, p, now: now, timeouts: timeouts, &ctx) }
    return refreshAndTrack(c, p, now: now, &ctx)
}

/// `refreshAndTrack` with the trace's reports: an [UPDATE] when the
/// connection's `ConnTraceState` changed, and the packet's verdict (OVS's
/// rules, `Verdict.tracked`: invalid when the tracker returned drop).
/// Preconditions: c's lock is held; tracing.
@inline(never)
func tracedRefreshAndTrack(_ c: UnsafeMutablePointer<ConnNode>, reply: Bool, _ p: Packet, now: Int64, timeouts: Timeouts,
                           _ ctx: inout WorkerContext) -> TrackerResult? {
    let proto = p.id.transProto
    let before = ConnTraceState(proto: proto, tcb: c.pointee.tcb, udp: c.pointee.udp)
    let r = refreshAndTrack(c, p, now: now, &ctx)
    let after = ConnTraceState(proto: proto, tcb: c.pointee.tcb, udp: c.pointee.udp)
    if after != before && ctx.tracingEvents { ctx.traceEvent(.update, c.record(timeouts, now: now), now: now) }
    ctx.traceVerdict(.tracked(reply: reply, replied: !after.unreplied, invalid: r == .drop, dnat: c.pointee.natRedirect), p)
    return r
}

/// The trace's reports for a packet that created connection c (now in the
/// table): [NEW] with its state after the packet, and `new|trk`.
/// Preconditions: no lock is held; tracing.
@inline(never)
func traceCreated(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet, now: Int64, timeouts: Timeouts,
                  _ ctx: inout WorkerContext) {
    if ctx.tracingEvents { ctx.traceEvent(.new, c.lockedRecord(timeouts, now: now), now: now) }
    ctx.traceVerdict(.created(dnat: p.nat), p)
}

/// The trace's [DESTROY] for connection c, just removed from the table.
/// Preconditions: c's lock is not held; tracing events.
@inline(never)
func traceDestroyed(_ c: UnsafeMutablePointer<ConnNode>, reason: RemovalReason, now: Int64, timeouts: Timeouts,
                    _ ctx: inout WorkerContext) {
    ctx.traceEvent(.destroy, c.lockedRecord(timeouts, now: now), now: now, reason: reason)
}

/// The seed's packet handling for a found connection: refresh `lastUsed`,
/// initialise an empty tracker, else feed it (a packet on the hook that
/// initialised it is outbound, any other inbound). Returns nil when the
/// packet initialised the tracker. Preconditions: c's lock is held.
@inline(__always)
func refreshAndTrack(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet, now: Int64,
                     _ ctx: inout WorkerContext) -> TrackerResult? {
    c.pointee.lastUsed = now
    if p.id.transProto == .udp {
        if !c.pointee.udp.initialised {
            initialiseTracker(c, p, &ctx)
            return nil
        }
        if p.hook != c.pointee.tcbHook { c.pointee.udp.replied = true }
        ctx.stats.trackerResults[Int(TrackerResult.alive.rawValue)] &+= 1
        return .alive
    }
    if c.pointee.tcb.isEmpty {
        initialiseTracker(c, p, &ctx)
        return nil
    }
    let r = p.hook == c.pointee.tcbHook ? c.pointee.tcb.updateOutbound(p.tcp) : c.pointee.tcb.updateInbound(p.tcp)
    ctx.stats.trackerResults[Int(r.rawValue)] &+= 1
    return r
}
