import struct Synchronization.Atomic

/// What confirmation (`__nf_conntrack_confirm`) found under both stripes.
enum LinuxConfirmOutcome {
    case inserted
    /// A connection with the same original (`dir` 0) or reply (`dir` 1)
    /// tuple is in the table; a reference to it is held unless it was
    /// already being removed (nil).
    case clash(LinuxConn?, dir: Int)
    /// A chain was longer than this insert's random limit.
    case chainTooLong
}

extension LinuxTable {
    /// `nf_conntrack_in` for one packet: look up (lock-free), then track
    /// under the connection lock; or create, track and confirm. A SYN that
    /// reopens a closed connection removes it and is looked up again.
    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        let now = clock.now()
        let h = hash(p.id)
        var repeated = false
        while true {
            ctx.stats.lookups &+= 1
            if let (c, dir) = findGet(p.id, hash: h, now: now, &ctx) {
                ctx.stats.found &+= 1
                var invalid = false
                let r = track(c, dir: dir, p, now: now, invalid: &invalid, &ctx)
                if r == nil && !repeated {
                    // `-NF_REPEAT`: the old connection is gone; go again.
                    kill(c, kind: .inline, reason: .other, now: now, &ctx)
                    c.put()
                    repeated = true
                    continue
                }
                if ctx.tracing {
                    ctx.traceVerdict(.tracked(reply: dir == 1, replied: c.has(LinuxStatus.seenReply), invalid: invalid,
                                              dnat: c.keys.pointee.nat), p)
                }
                c.put()
                return .tracked(r ?? .drop)
            }
            ctx.stats.notFound &+= 1
            return create(p, hash: h, now: now, &ctx)
        }
    }

    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        runPacketLoop(self, &batch, &ctx)
    }

    /// The tracker's result as the harness counts it: SYN_SENT, SYN_SENT2
    /// and SYN_RECV are connecting; ESTABLISHED to LAST_ACK alive;
    /// TIME_WAIT closed (by the side whose FIN began it); CLOSE reset.
    @inline(__always)
    static func result(_ t: LinuxTCPConntrack) -> TrackerResult {
        switch t.state {
        case .none, .synSent, .synSent2, .synRecv: return .connecting
        case .established, .finWait, .closeWait, .lastAck: return .alive
        case .timeWait: return t.closeInit & 1 != 0 ? .closedBySelf : .closedByPeer
        case .close: return .reset
        }
    }

    /// Tracks a packet of a found connection in direction `dir` (the
    /// direction of the node it matched, as Linux takes it). Returns nil
    /// when the packet reopens the connection (the caller removes it and
    /// looks up again); `invalid` is set when the tracker refused it.
    /// Records an [UPDATE] when the state or a flag changed.
    /// Preconditions: a reference to c is held.
    @inline(__always)
    func track(_ c: LinuxConn, dir: Int, _ p: Packet, now: Int64, invalid: inout Bool,
               _ ctx: inout WorkerContext) -> TrackerResult? {
        let status = c.status.pointee.load(ordering: .acquiring)
        let seenReply = status & LinuxStatus.seenReply != 0
        let assured = status & LinuxStatus.assured != 0
        var assuredNow = assured
        var stateChanged = false
        var killed = false
        let result: TrackerResult
        lockConn(c, &ctx)
        c.locked.pointee.lastUsed = now
        if p.id.transProto == .udp {
            // `nf_conntrack_udp_packet`: replied and older than the stream
            // delay: a stream (longer timeout, ASSURED).
            var timeout = timeouts.udpUnreplied
            var stream = false
            if seenReply && now > c.keys.pointee.streamAt {
                timeout = timeouts.udpReplied
                stream = !assured
            }
            c.expires.pointee.store(now &+ timeout, ordering: .relaxed)
            unlockConn(c, &ctx)
            if stream { c.set(LinuxStatus.assured); assuredNow = true }
            result = .alive
        } else {
            let before = c.locked.pointee.tcp.state
            let v = c.locked.pointee.tcp.packet(p.tcp, dir: dir, seenReply: seenReply, assured: assured,
                                                 timeouts: timeouts)
            let state = c.locked.pointee.tcp
            stateChanged = state.state != before
            if case .accept(let t?, _) = v { c.expires.pointee.store(now &+ t, ordering: .relaxed) }
            unlockConn(c, &ctx)
            switch v {
            case .accept(_, let assure):
                if assure { c.set(LinuxStatus.assured); assuredNow = true }
                result = Self.result(state)
            case .acceptAndKill:
                // An RST before any reply (`nf_ct_kill_acct`).
                kill(c, kind: .inline, reason: .other, now: now, &ctx)
                killed = true
                result = .reset
            case .ignored:
                result = .drop
            case .invalid:
                ctx.stats.invalid &+= 1
                ctx.stats.trackerResults[Int(TrackerResult.drop.rawValue)] &+= 1
                invalid = true
                return .drop
            case .reopen:
                return nil
            }
        }
        // A packet the tracker took in the reply direction: seen a reply.
        if dir == 1 && !seenReply { c.set(LinuxStatus.seenReply) }
        ctx.stats.trackerResults[Int(result.rawValue)] &+= 1
        if ctx.tracingEvents && !killed && (stateChanged || (dir == 1 && !seenReply) || assuredNow != assured) {
            ctx.traceEvent(.update, record(c, now: now, &ctx), now: now)
        }
        return result
    }

    /// `init_conntrack` and the confirmation of its first packet: the
    /// tracker decides whether a connection may start here (`tcp_new`),
    /// the limit is taken (early drop when full), the packet is tracked on
    /// the unpublished connection, and `confirm` inserts it.
    func create(_ p: Packet, hash h: UInt32, now: Int64, _ ctx: inout WorkerContext) -> PacketOutcome {
        var tcp = LinuxTCPConntrack()
        if p.id.transProto != .udp {
            guard let t = LinuxTCPConntrack.new(p.tcp) else {
                ctx.stats.invalid &+= 1
                if ctx.tracing { ctx.traceVerdict([.inv, .trk], p) }
                return .notTracked
            }
            tcp = t
        }
        guard limit.reserve({ earlyDrop(from: h, now: now, &ctx) }) else {
            ctx.stats.drop &+= 1
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        }
        let reply = p.replyForNewConnection
        var expires = now &+ timeouts.udpUnreplied
        if p.id.transProto != .udp {
            // The first segment from NONE, original direction, no reply yet:
            // always taken (`new` checked its cell).
            if case .accept(let t, _) = tcp.packet(p.tcp, dir: 0, seenReply: false, assured: false, timeouts: timeouts) {
                expires = now &+ (t ?? timeouts.synSent)
            }
        }
        let c = LinuxConn.make(original: p.id, reply: reply, hook: p.hook, nat: p.nat,
                               streamAt: now &+ timeouts.udpStreamAfter, tcp: tcp, lastUsed: now)
        c.expires.pointee.store(expires, ordering: .relaxed)
        ctx.stats.trackerInit &+= 1
        switch confirm(c, h, hash(reply), now: now, &ctx) {
        case .inserted:
            ctx.stats.insert &+= 1
            ctx.noteCreated()
            limit.noteInserted()
            if ctx.tracing {
                // Published, but not freed before this thread's next
                // quiescent point, whoever removes it.
                if ctx.tracingEvents { ctx.traceEvent(.new, record(c, now: now, &ctx), now: now) }
                ctx.traceVerdict(.created(dnat: p.nat), p)
            }
            return .created
        case .clash(let other, let dir):
            LinuxConn.destroy(c)
            limit.release()
            defer { other?.put() }
            // `nf_ct_resolve_clash`: UDP may take the connection that won
            // the race when it is the same flow; anything else is dropped.
            if let other, p.id.transProto == .udp && dir == 0 && other.keys.pointee.reply == reply
                && !other.has(LinuxStatus.dying) {
                ctx.stats.insertClash &+= 1
                var invalid = false
                let r = track(other, dir: 0, p, now: now, invalid: &invalid, &ctx) ?? .drop
                if ctx.tracing {
                    ctx.traceVerdict(.tracked(reply: false, replied: other.has(LinuxStatus.seenReply), invalid: invalid,
                                              dnat: other.keys.pointee.nat), p)
                }
                return .tracked(r)
            }
            ctx.stats.insertFailed &+= 1
            ctx.stats.drop &+= 1
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        case .chainTooLong:
            LinuxConn.destroy(c)
            limit.release()
            ctx.stats.chainTooLong &+= 1
            ctx.stats.insertFailed &+= 1
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        }
    }

    /// This insert's chain-length limit: 8 + a number below 24, drawn from
    /// the table's seed, the tuple and the time, so a run is repeatable.
    @inline(__always)
    func maxChain(_ id: TupleID, now: Int64) -> Int {
        var r = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(JenkinsHash.hash(id, seed: ~seed))
                           ^ UInt64(bitPattern: now))
        return Self.minChain + Int(r.next() % UInt64(Self.maxChainRandom))
    }

    /// `__nf_conntrack_confirm`: under both stripes, looks for the
    /// original tuple in its chain and the reply tuple in its, counting
    /// each chain against a random limit, then links both nodes and marks
    /// the connection confirmed. `h` and `rh` are the two tuples' hashes.
    /// Preconditions: no stripe lock is held; c is unpublished.
    func confirm(_ c: LinuxConn, _ h: UInt32, _ rh: UInt32, now: Int64, _ ctx: inout WorkerContext) -> LinuxConfirmOutcome {
        let limitLength = maxChain(c.keys.pointee.original, now: now)
        let locked = lockBuckets(h, rh, descending: descendingLocks, &ctx)
        defer { doubleUnlock(locked.held, &ctx) }
        let heads = locked.table.heads
        for dir in 0..<2 {
            let b = dir == 0 ? locked.b1 : locked.b2
            let key = c.tuple(dir)
            var length = 0
            var v = heads[b].load(ordering: .relaxed)
            while v & 1 == 0 {
                let o = LinuxConn(link: v)
                let od = LinuxConn.direction(v)
                if o.tuple(od) == key {
                    // A reference for the caller (a dying one refuses it).
                    return .clash(o.refIncNotZero() ? o : nil, dir: dir)
                }
                if length > limitLength { return .chainTooLong }
                length &+= 1
                v = o.next(od).pointee.load(ordering: .relaxed)
            }
        }
        c.status.pointee.store(LinuxStatus.confirmed, ordering: .relaxed)
        // The table's reference.
        c.refs.pointee.store(1, ordering: .relaxed)
        pushFront(c, 0, locked.b1, heads: heads)
        pushFront(c, 1, locked.b2, heads: heads)
        return .inserted
    }

    /// `early_drop`: from the bucket of `hash` and the next 7
    /// (`earlyDropBuckets` in all, default Linux's 8), each in the table
    /// current when it is reached, walks each chain without
    /// a lock, removing expired connections on the way and every confirmed
    /// connection that is not assured; stops after the first bucket where
    /// it dropped any. Preconditions: no lock is held.
    func earlyDrop(from hash: UInt32, now: Int64, _ ctx: inout WorkerContext) -> Bool {
        var bucket = 0
        for i in 0..<config.earlyDropBuckets {
            let t = ht
            guard i < t.size else { break }
            bucket = i == 0 ? Self.scale(hash, size: t.size) : (bucket &+ 1) % t.size
            var drops: UInt64 = 0
            var v = t.heads[bucket].load(ordering: .acquiring)
            while v & 1 == 0 {
                let c = LinuxConn(link: v)
                let dir = LinuxConn.direction(v)
                if c.remaining(now: now) < 0 {
                    gcExpired(c, now: now, kind: .other, &ctx)  // reason: expired, removed inline
                } else if c.status.pointee.load(ordering: .acquiring) & (LinuxStatus.assured | LinuxStatus.dying) == 0,
                          c.refIncNotZero() {
                    if c.has(LinuxStatus.confirmed) && kill(c, kind: .other, reason: .earlyDrop, now: now, &ctx) {
                        drops &+= 1
                    }
                    c.put()
                }
                v = c.next(dir).pointee.load(ordering: .acquiring)
            }
            if drops > 0 {
                ctx.stats.earlyDrop &+= drops
                return true
            }
        }
        return false
    }
}
