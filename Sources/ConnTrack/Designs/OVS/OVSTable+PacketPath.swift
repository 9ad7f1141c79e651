import Sync

/// What the update of a found connection decided.
enum OVSUpdate {
    /// Tracked: the tracker's result and the packet's state.
    case tracked(TrackerResult?, Verdict)
    /// Expired: OVS's lookup skips it (`conn_expired`); the packet goes on
    /// to the next match, or creates anew beside it.
    case expired
    /// A SYN on a connection closed in both directions (`CT_UPDATE_NEW`):
    /// the old connection is expired on the spot (`conn_force_expire`) and
    /// the packet creates a new one beside it.
    case reopen
}

extension OVSTable {
    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        let (outcome, verdict) = track(p, now: clock.now(), &ctx)
        // After the packet's events: the lane moves to the next packet.
        if ctx.tracing { ctx.traceVerdict(verdict, p) }
        return outcome
    }

    /// The packet path with the state OVS would give the packet
    /// (`process_one`): the lock-free lookup, then the found connection's
    /// update under its mutex, or the insert under ct_lock. An expired
    /// connection is passed over (`conn_key_lookup`), and so is one a SYN
    /// reopened, which is expired on the spot (`conn_force_expire`): the
    /// new connection goes in beside it, and the sweeper takes the old.
    @inline(__always)
    public func track(_ p: Packet, now: Int64, _ ctx: inout WorkerContext) -> (outcome: PacketOutcome, state: Verdict) {
        ctx.stats.packets &+= 1
        ctx.stats.lookups &+= 1
        let h = hash(p.id)
        let found = lookup(p.id, hash: h, &ctx)
        var last: UnsafeMutablePointer<ConnNode>? = nil
        for k in 0..<found.count {
            let c = found[k].pointer(to: \.conn)!.pointee
            // A NAT connection can match twice, by either key.
            if c == last { continue }
            last = c
            if case .tracked(let r, let state) = update(c, p, reply: !c.isOriginal(p.id), now: now, &ctx) {
                ctx.stats.found &+= 1
                return (.tracked(r), state)
            }
        }
        ctx.stats.notFound &+= 1
        return create(p, hash: h, now: now, &ctx)
    }

    /// `conn_key_lookup`: the map's entries of `h` whose connection has
    /// `id` as its forward or its reverse key; the reverse key of a
    /// connection without NAT is not in the map, but hashes as its forward
    /// key does (`hash` is symmetric). `counted`: the packet's lookup,
    /// whose keys compared and reads repeated the counters take (the
    /// insert's second lookup is not counted again).
    @inline(__always)
    func lookup(_ id: TupleID, hash h: UInt32, counted: Bool = true, _ ctx: inout WorkerContext) -> CuckooMap.Matches {
        let r = map.findAll(hash: h) { node in
            let c = node.pointer(to: \.conn)!.pointee
            return c.isOriginal(id) || c.pointer(to: \.reply.id)!.pointee == id
        }
        if counted {
            ctx.stats.chain.record(r.compared)
            ctx.stats.searchRestart &+= UInt64(r.restarts)
        }
        return r.matches
    }

    /// `conn_update_state` for a found connection, under its mutex (skipped
    /// with the injected `skip-conn-mutex` fault: a data race). TCP goes
    /// through OVS's tracker (`OVSTCPConn.update`), whose decision sets the
    /// packet's state: valid, est (rpl in the reply direction); a SYN
    /// before the handshake's end, new; refused, inv.
    @inline(__always)
    func update(_ c: UnsafeMutablePointer<ConnNode>, _ p: Packet, reply: Bool, now: Int64,
                _ ctx: inout WorkerContext) -> OVSUpdate {
        let locked = !skipConnMutex
        if locked { lockConnection(c, &ctx) }
        if Self.expired(remaining(c, now: now)) {
            if locked { unlockConnection(c, &ctx) }
            return .expired
        }
        // Only the injected `ct-lock-after-conn` fault acts on a timeout change.
        let before = ctLockAfterConn ? timeout(c) : 0
        let traced = ctx.tracingEvents ? ConnTraceState(proto: p.id.transProto, tcb: c.pointee.tcb, udp: c.pointee.udp) : nil
        var state = Verdict.trk
        let result: TrackerResult
        if p.id.transProto == .udp {
            result = updateUDP(c, reply: reply, now: now, &state, &ctx)
        } else {
            var t = c.pointee.tcb.ovsTCPUnchecked
            let (decision, refreshed) = t.update(p.tcp, reply: reply)
            c.pointee.tcb.ovsTCPUnchecked = t
            if refreshed {
                c.pointee.lastUsed = now
                setExpiration(c)
            }
            switch decision {
            case .new:
                // Both peers at FIN_WAIT_2 or beyond: the old connection
                // expired now (`conn_force_expire`) and a new one made
                // beside it.
                c.pointee.lastUsed = Self.forcedExpiry
                setExpiration(c)
                if locked { unlockConnection(c, &ctx) }
                return .reopen
            case .invalid:
                state = [.inv, .trk]
            case .validNew:
                state.insert(.new)
            case .valid:
                state.insert(.est)
                if reply { state.insert(.rpl) }
            }
            result = Self.trackerResult(decision, t)
            ctx.stats.trackerResults[Int(result.rawValue)] &+= 1
        }
        if c.pointee.natRedirect && !state.contains(.inv) { state.insert(reply ? .snat : .dnat) }
        if let t = traced, ConnTraceState(proto: p.id.transProto, tcb: c.pointee.tcb, udp: c.pointee.udp) != t {
            ctx.traceEvent(.update, record(c, now: now), now: now)
        }
        if locked {
            if ctLockAfterConn && timeout(c) != before {
                expirationChanged(c, &ctx)
            }
            unlockConnection(c, &ctx)
        }
        return .tracked(result, state)
    }

    /// The tracker-result counter an OVS TCP decision is counted under:
    /// refused, drop; a SYN before the handshake's end, connecting; taken,
    /// alive, or, once both peers are at FIN_WAIT_2 or beyond, reset
    /// (after an RST: TIME_WAIT) or closed by peer.
    @inline(__always)
    static func trackerResult(_ d: OVSTCPUpdate, _ t: OVSTCPConn) -> TrackerResult {
        switch d {
        case .invalid: return .drop
        case .validNew: return .connecting
        case .new: return .reset
        case .valid:
            guard t.original.state >= .finWait2 && t.reply.state >= .finWait2 else { return .alive }
            return t.original.state == .timeWait || t.reply.state == .timeWait ? .reset : .closedByPeer
        }
    }

    /// OVS's "other" protocol (lib/conntrack-other.c, `other_conn_update`,
    /// as since "conntrack: Fix conntrack multiple new state"): the first
    /// reply makes the flow bidirectional, and from then on its packets are
    /// valid (est, with rpl in the reply direction); until a reply, every
    /// packet is still new (`CT_UPDATE_VALID_NEW`), the second and later
    /// ones in OTHERS_MULTIPLE.
    /// Preconditions: c's lock is held.
    @inline(__always)
    func updateUDP(_ c: UnsafeMutablePointer<ConnNode>, reply: Bool, now: Int64, _ state: inout Verdict,
                   _ ctx: inout WorkerContext) -> TrackerResult {
        c.pointee.lastUsed = now
        if reply && !c.pointee.udp.replied {
            c.pointee.udp.replied = true
        } else if !c.pointee.udp.replied {
            c.pointee.designBits |= OVSBits.udpMultiple
        }
        if c.pointee.udp.replied {
            state.insert(.est)
            if reply { state.insert(.rpl) }
        } else {
            state.insert(.new)
        }
        setExpiration(c)
        ctx.stats.trackerResults[Int(TrackerResult.alive.rawValue)] &+= 1
        return .alive
    }

    /// `conn_not_found` under ct_lock: look up again (a live match was
    /// inserted since by another worker), refuse at the limit, insert the
    /// forward key, and the reverse key only for NAT. Expired holders of
    /// the key stay where they are for the sweeper, and count towards the
    /// limit until it takes them.
    func create(_ p: Packet, hash h: UInt32, now: Int64,
                _ ctx: inout WorkerContext) -> (outcome: PacketOutcome, state: Verdict) {
        var state: Verdict = [.new, .trk]
        if p.id.transProto == .tcp && !OVSTCPConn.validNew(p.tcp.flags) {
            // `valid_new` fails: CS_INVALID, nothing created (counted as a drop).
            ctx.stats.drop &+= 1
            return (.notTracked, [.inv, .trk])
        }
        lockCT(&ctx)
        let found = lookup(p.id, hash: h, counted: false, &ctx)
        for k in 0..<found.count {
            let c = found[k].pointee.conn
            guard !Self.expired(remaining(c, now: now)) else { continue }
            // Another worker inserted it since the lock-free lookup.
            unlockCT(&ctx)
            ctx.stats.insertClash &+= 1
            if case .tracked(let r, let s) = update(c, p, reply: !c.isOriginal(p.id), now: now, &ctx) {
                return (.tracked(r), s)
            }
            return (.notTracked, state)
        }
        let reply = p.replyForNewConnection
        let hr = hash(reply)
        if p.nat && reply != p.id {
            let holders = lookup(reply, hash: hr, counted: false, &ctx)
            for k in 0..<holders.count where !Self.expired(remaining(holders[k].pointee.conn, now: now)) {
                // The translated reply key belongs to a live connection (a NAT clash).
                unlockCT(&ctx)
                ctx.stats.insertFailed &+= 1
                return (.notTracked, state)
            }
        }
        guard count < limit else {
            // OVS: `conntrack_full`, the packet stays new and uncommitted.
            unlockCT(&ctx)
            ctx.stats.drop &+= 1
            return (.notTracked, state)
        }
        let c = ConnNode.make(original: p.id, reply: reply, hook: p.hook, now: now, nat: p.nat, adaptiveMutex: true,
                              cacheAligned: false)
        if p.id.transProto == .udp {
            initialiseTracker(c, p, &ctx)
        } else {
            // `tcp_new_conn`: expires after the first packet's timeout.
            c.pointee.tcb = TCB(ovs: OVSTCPConn(first: p.tcp))
            ctx.stats.trackerInit &+= 1
        }
        // Before the insert publishes c (`conn_init_expiration`).
        setExpiration(c)
        c.pointee.serial = UInt64(Self.unlisted) &<< 56 | nextSerial
        guard insertKey(c.originalPtr, hash: h, &ctx) else {
            unlockCT(&ctx)
            ConnNode.destroy(c)
            ctx.stats.insertFailed &+= 1
            return (.notTracked, state)
        }
        if c.pointee.natRedirect && !c.isSelf && !insertKey(c.replyPtr, hash: hr, &ctx) {
            // The original key was visible: retire, never free at once.
            _ = removeKey(c.originalPtr, hash: h, &ctx)
            reclaimer.retire(c, &ctx)
            unlockCT(&ctx)
            ctx.stats.insertFailed &+= 1
            return (.notTracked, state)
        }
        nextSerial &+= 1
        newestCreate = max(newestCreate, now)
        pushFrontInTurn(c)
        count += 1
        if count > peak { peak = count }
        ctx.stats.insert &+= 1
        ctx.noteCreated()
        unlockCT(&ctx)
        if ctx.tracingEvents { ctx.traceEvent(.new, lockedRecord(c, now: now), now: now) }
        if p.nat { state.insert(.dnat) }
        return (.created, state)
    }

    /// The timeout c's expiration was last set with: a TCP connection's
    /// from the class OVS's tracker chose (`Timeouts.timeout` reads it from
    /// the block), other protocols' from their state. Preconditions: c's
    /// lock is held.
    @inline(__always)
    func timeout(_ c: UnsafeMutablePointer<ConnNode>) -> Int64 {
        timeouts.timeout(proto: c.pointee.original.id.transProto, tcb: c.pointee.tcb, udp: c.pointee.udp)
    }

    /// c as a record, with the time left as `remaining` counts it.
    /// Preconditions: c's lock is held.
    func record(_ c: UnsafeMutablePointer<ConnNode>, now: Int64) -> ConnectionRecord {
        var r = c.record(timeouts, now: now)
        r.timeoutLeft = remaining(c, now: now)
        return r
    }

    /// `record`, read under c's lock.
    func lockedRecord(_ c: UnsafeMutablePointer<ConnNode>, now: Int64) -> ConnectionRecord {
        PThread.lock(c.mutexPtr)
        defer { PThread.unlock(c.mutexPtr) }
        return record(c, now: now)
    }

    /// `conn_clean`: its keys out of the map, off its list, retired; a
    /// [DESTROY] while tracing events. Preconditions: ct_lock is held; c is
    /// in the table; c's lock is not held.
    func remove(_ c: UnsafeMutablePointer<ConnNode>, reason: RemovalReason, now: Int64, _ ctx: inout WorkerContext) {
        if ctx.tracingEvents { ctx.traceEvent(.destroy, lockedRecord(c, now: now), now: now, reason: reason) }
        let removedOriginal = removeKey(c.originalPtr, hash: hash(c.pointee.original.id), &ctx)
        let removedReply = !c.pointee.natRedirect || c.isSelf || removeKey(c.replyPtr, hash: hash(c.pointee.reply.id), &ctx)
        assert(removedOriginal && removedReply, "a connection's keys are missing from the map")
        unlink(c)
        count -= 1
        reclaimer.retire(c, &ctx)
    }
}

extension UnsafeMutablePointer where Pointee == ConnNode {
    /// Whether `id` is the connection's forward key (immutable after
    /// insert: read without its lock).
    @inline(__always) func isOriginal(_ id: TupleID) -> Bool { pointer(to: \.original.id)!.pointee == id }
}
