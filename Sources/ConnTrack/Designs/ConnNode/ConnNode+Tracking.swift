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
/// a found connection).
@inline(__always)
func lockedRefreshAndTrack(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet, now: Int64,
                           _ ctx: inout WorkerContext) -> TrackerResult? {
    lockConnection(c, &ctx)
    defer { unlockConnection(c, &ctx) }
    return refreshAndTrack(c, p, now: now, &ctx)
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
