/// What the packet path did with one packet.
public enum PacketOutcome: Sendable, Equatable {
    /// Matched a connection; the tracker returned this (nil: it was
    /// initialised by this packet).
    case tracked(TrackerResult?)
    /// Created a connection.
    case created
    /// Not tracked: insert failed or was refused at the limit.
    case notTracked
}

extension BucketTable {
    /// The seed's `handlePacket`: look the packet's tuple up; when found,
    /// refresh `lastUsed` and update the tracker; when missing, create and
    /// insert a connection. `clock` is read twice per packet in `seed2020`
    /// (as the seed's two `time.Now()` calls) and once in `fixed`.

    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        let now = clock.now()
        readLock(&ctx)
        let found = connFor(p.id, bucket: bucketIndex(p.id), now: now, &ctx)
        unlockTable(&ctx)
        if let t = found {
            return .tracked(update(t, p, now: rules.readsClockTwice ? clock.now() : now, &ctx))
        }
        let c = ConnNode.make(original: p.id, reply: p.replyForNewConnection, hook: p.hook,
                              now: rules.readsClockTwice ? clock.now() : now, nat: p.nat)
        switch insert(c, &ctx) {
        case .inserted:
            if rules.trackerSeesCreatingPacket {
                lockConn(c, &ctx)
                initialise(c, p)
                ctx.stats.trackerInit &+= 1
                unlockConn(c, &ctx)
            }
            return .created
        case .clash(let existing):
            ConnNode.destroy(c)
            return .tracked(update(existing, p, now: now, &ctx))
        case .failed, .dropped:
            ConnNode.destroy(c)
            return .notTracked
        }
    }

    /// Refreshes `lastUsed` and feeds the tracker. A packet on the hook that
    /// initialised the tracker is outbound, any other inbound.

    func update(_ t: UnsafeMutablePointer<TupleNode>, _ p: Packet, now: Int64, _ ctx: inout WorkerContext) -> TrackerResult? {
        let c = t.pointee.conn
        lockConn(c, &ctx)
        defer { unlockConn(c, &ctx) }
        c.pointee.lastUsed = now
        if p.id.transProto == .udp {
            if !c.pointee.udp.initialised {
                initialise(c, p)
                ctx.stats.trackerInit &+= 1
                return nil
            }
            if p.hook != c.pointee.tcbHook { c.pointee.udp.replied = true }
            ctx.stats.trackerResults[Int(TrackerResult.alive.rawValue)] &+= 1
            return .alive
        }
        if c.pointee.tcb.isEmpty {
            initialise(c, p)
            ctx.stats.trackerInit &+= 1
            return nil
        }
        let r = p.hook == c.pointee.tcbHook ? c.pointee.tcb.updateOutbound(p.tcp) : c.pointee.tcb.updateInbound(p.tcp)
        ctx.stats.trackerResults[Int(r.rawValue)] &+= 1
        return r
    }

    /// Preconditions: c's lock is held.
    @inline(__always)
    func initialise(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet) {
        c.pointee.tcbHook = p.hook
        if p.id.transProto == .udp {
            c.pointee.udp.initialised = true
        } else {
            c.pointee.tcb.initialise(p.tcp)
        }
    }
}
