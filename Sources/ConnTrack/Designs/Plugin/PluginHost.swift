import CTBDesignABI
import Sync

/// The harness's tracker state inside the plugin's opaque
/// `ctb_tracker_state` (CTB_TRACKER_STATE_SIZE bytes): all-zero bytes are
/// a fresh tracker (TCB(), UDPState(), the first hook).
struct HostTrackerState {
    var tcb: TCB
    var udp: UDPState
    var hook: Hook
}

/// The services handed to a plugin at create (`ctb_host`): lock hooks onto
/// `RankedLock`'s bookkeeping, the harness's tracker, the seed's hash.
enum PluginHost {
    static func checkLayout() {
        precondition(MemoryLayout<HostTrackerState>.size <= Int(CTB_TRACKER_STATE_SIZE)
                     && MemoryLayout<HostTrackerState>.alignment <= Int(CTB_TRACKER_STATE_ALIGN),
                     "the tracker state outgrew CTB_TRACKER_STATE_SIZE")
        precondition(MemoryLayout<ctb_packet>.size == 112 && MemoryLayout<ctb_outcome>.size == 24,
                     "the ABI's structures changed size")
    }

    /// A lock class and index as a rank of the declared order.
    @inline(__always)
    static func rank(_ cls: UInt32, _ index: UInt64) -> LockRank {
        switch cls {
        case CTB_LOCK_TABLE.rawValue: return .table
        case CTB_LOCK_BUCKET.rawValue: return .bucket(Int(truncatingIfNeeded: min(index, UInt64(Int.max - 8))))
        case CTB_LOCK_CONNECTION.rawValue: return .connection
        default: return .retireList
        }
    }

    /// The call a `ctb_ctx` belongs to (see `PluginTable.call`).
    @inline(__always)
    static func call(_ p: UnsafeMutablePointer<ctb_ctx>?) -> UnsafeMutablePointer<PluginCall> {
        p!.pointee.harness.assumingMemoryBound(to: PluginCall.self)
    }

    /// The worker context a call's `ctb_ctx` carries.
    @inline(__always)
    static func context(_ p: UnsafeMutablePointer<ctb_ctx>?) -> UnsafeMutablePointer<WorkerContext> {
        call(p).pointee.context
    }

    /// With the plugin's call site (ABI 2), which a lock-order report names.
    static let willAcquire: @convention(c) (UnsafeMutablePointer<ctb_ctx>?, UInt32, UInt64, UnsafePointer<CChar>?, UInt32) -> Void = {
        p, cls, index, file, line in
        context(p).pointee.locks.willAcquire(rank(cls, index), cFile: file, line: UInt(line))
    }

    /// The try failed: the watchdog reads this while the thread blocks;
    /// `acquired` clears it.
    static let willWait: @convention(c) (UnsafeMutablePointer<ctb_ctx>?, UInt32, UInt64) -> Void = { p, cls, index in
        context(p).pointee.watch?.waitingFor.store(rank(cls, index).value &+ 1, ordering: .relaxed)
    }

    static let acquired: @convention(c) (UnsafeMutablePointer<ctb_ctx>?, UInt32, UInt64, Int32, UInt64) -> Void = { p, cls, _, contended, wait in
        let ctx = context(p)
        let c: UInt64 = contended != 0 ? 1 : 0
        if c != 0 { ctx.pointee.watch?.waitingFor.store(0, ordering: .relaxed) }
        switch cls {
        case CTB_LOCK_TABLE.rawValue:
            ctx.pointee.stats.tableLock.acquisitions &+= 1
            ctx.pointee.stats.tableLock.contended &+= c
            ctx.pointee.stats.tableLock.waitNanos &+= wait
        case CTB_LOCK_BUCKET.rawValue:
            ctx.pointee.stats.bucketLock.acquisitions &+= 1
            ctx.pointee.stats.bucketLock.contended &+= c
            ctx.pointee.stats.bucketLock.waitNanos &+= wait
        case CTB_LOCK_CONNECTION.rawValue:
            ctx.pointee.stats.connLock.acquisitions &+= 1
            ctx.pointee.stats.connLock.contended &+= c
            ctx.pointee.stats.connLock.waitNanos &+= wait
        default:
            break
        }
    }

    static let released: @convention(c) (UnsafeMutablePointer<ctb_ctx>?, UInt32, UInt64) -> Void = { p, cls, index in
        context(p).pointee.locks.released(rank(cls, index))
    }

    @inline(__always)
    static func state(_ st: UnsafeMutablePointer<ctb_tracker_state>) -> UnsafeMutablePointer<HostTrackerState> {
        UnsafeMutableRawPointer(st).bindMemory(to: HostTrackerState.self, capacity: 1)
    }

    @inline(__always)
    static func segment(_ p: UnsafePointer<ctb_packet>) -> TCPSegment {
        let t = p.pointee.tcp
        return TCPSegment(flags: TCPFlags(rawValue: t.flags), seq: t.seq, ack: t.ack, window: t.window,
                          payloadLength: t.payload_length)
    }

    /// `initialiseTracker` without the counting (the harness counts from outcomes).
    @inline(__always)
    static func initialise(_ s: UnsafeMutablePointer<HostTrackerState>, _ p: UnsafePointer<ctb_packet>) {
        s.pointee.hook = Hook(rawValue: p.pointee.hook) ?? .prerouting
        if p.pointee.id.trans_proto == TransProto.udp.rawValue {
            s.pointee.udp.initialised = true
        } else {
            s.pointee.tcb.initialise(segment(p))
        }
    }

    static let trackerInit: @convention(c) (UnsafePointer<ctb_host>?, UnsafeMutablePointer<ctb_tracker_state>?,
                                            UnsafePointer<ctb_packet>?) -> Void = { _, st, p in
        initialise(state(st!), p!)
    }

    /// `refreshAndTrack` without `lastUsed` (the plugin keeps it).
    static let trackerUpdate: @convention(c) (UnsafePointer<ctb_host>?, UnsafeMutablePointer<ctb_tracker_state>?,
                                              UnsafePointer<ctb_packet>?) -> UInt8 = { _, st, pp in
        let s = state(st!), p = pp!
        let hook = Hook(rawValue: p.pointee.hook) ?? .prerouting
        if p.pointee.id.trans_proto == TransProto.udp.rawValue {
            if !s.pointee.udp.initialised { initialise(s, p); return UInt8(CTB_TRACKER_INIT.rawValue) }
            if hook != s.pointee.hook { s.pointee.udp.replied = true }
            return TrackerResult.alive.rawValue
        }
        if s.pointee.tcb.isEmpty { initialise(s, p); return UInt8(CTB_TRACKER_INIT.rawValue) }
        let r = hook == s.pointee.hook ? s.pointee.tcb.updateOutbound(segment(p)) : s.pointee.tcb.updateInbound(segment(p))
        return r.rawValue
    }

    /// Called for every entry a walk checks: inlined, so only the fields it
    /// reads are loaded (not copies of `Timeouts` and the TCB).
    static let trackerTimeout: @convention(c) (UnsafePointer<ctb_host>?, UnsafePointer<ctb_tracker_state>?, UInt8) -> Int64 = { h, st, proto in
        let timeouts = h!.pointee.harness.assumingMemoryBound(to: Timeouts.self)
        let s = UnsafeRawPointer(st!).assumingMemoryBound(to: HostTrackerState.self)
        return timeouts.pointee.inlinedTimeout(proto: proto == TransProto.udp.rawValue ? .udp : .tcp,
                                               tcb: s.pointee.tcb, udp: s.pointee.udp)
    }

    static let trackerEstablished: @convention(c) (UnsafePointer<ctb_host>?, UnsafePointer<ctb_tracker_state>?) -> Int32 = { _, st in
        let s = UnsafeRawPointer(st!).assumingMemoryBound(to: HostTrackerState.self)
        return s.pointee.tcb.state == .alive || s.pointee.udp.replied ? 1 : 0
    }

    static let hash: @convention(c) (UnsafePointer<ctb_tuple>?, UInt32) -> UInt32 = { t, seed in
        JenkinsHash.hash(TupleID(t!.pointee), seed: seed)
    }

    /// `ConnTraceState` packed in 32 bits: the TCP state's index + 1 (0
    /// for UDP) in the low byte, unreplied and assured above it, and bit
    /// 31 so that no state is 0.
    static func pack(_ s: ConnTraceState) -> UInt32 {
        let state = s.state.flatMap { stateIndex[$0] }.map { $0 + 1 } ?? 0
        return 1 << 31 | state | (s.unreplied ? 1 << 8 : 0) | (s.assured ? 1 << 9 : 0)
    }

    /// Each TCP state's index, built once: `allCases` is a new array at
    /// every read, and `pack` runs twice per traced packet.
    static let stateIndex: [LinuxTCPState: UInt32] =
        Dictionary(uniqueKeysWithValues: LinuxTCPState.allCases.enumerated().map { ($1, UInt32($0)) })

    /// `pack`'s unreplied bit.
    static func unreplied(_ packed: UInt32) -> Bool { packed & 1 << 8 != 0 }

    static let traceState: @convention(c) (UnsafePointer<ctb_host>?, UnsafePointer<ctb_tracker_state>?, UInt8) -> UInt32 = { _, st, proto in
        let s = UnsafeRawPointer(st!).assumingMemoryBound(to: HostTrackerState.self)
        return pack(ConnTraceState(proto: proto == TransProto.udp.rawValue ? .udp : .tcp, tcb: s.pointee.tcb, udp: s.pointee.udp))
    }

    /// An event from the plugin, dated and placed as a built-in design's:
    /// a packet's at that packet's now and position in the lane, a pass's
    /// at the pass's now (the reaper's lane).
    static let traceEvent: @convention(c) (UnsafePointer<ctb_host>?, UnsafeMutablePointer<ctb_ctx>?, UInt32, UInt32,
                                           UnsafePointer<ctb_record>?, UInt32) -> Void = { h, p, kind, packet, r, reason in
        let info = call(p)
        let ctx = info.pointee.context
        guard let lane = ctx.pointee.trace, lane.pointee.recordsEvents, let r else { return }
        let k: ConnEventKind
        switch kind {
        case CTB_EVENT_NEW.rawValue: k = .new
        case CTB_EVENT_UPDATE.rawValue: k = .update
        case CTB_EVENT_DESTROY.rawValue: k = .destroy
        default: return
        }
        let why: RemovalReason
        switch reason {
        case CTB_REMOVED_INLINE.rawValue: why = .inline
        case CTB_REMOVED_REAPER.rawValue: why = .reaper
        case CTB_REMOVED_EARLY_DROP.rawValue: why = .earlyDrop
        case CTB_REMOVED_OTHER.rawValue: why = .other
        default: why = .none
        }
        let timeouts = h!.pointee.harness.assumingMemoryBound(to: Timeouts.self).pointee
        var now = info.pointee.now
        if packet != CTB_NO_PACKET, Int(packet) < info.pointee.count {
            // The event belongs to its packet: the lane's position moves to
            // it (the verdicts recorded after the call move it on).
            now = info.pointee.now(ofPacket: Int(packet))
            lane.pointee.index = info.pointee.traceBase &+ UInt64(packet)
        }
        ctx.pointee.traceEvent(k, ConnectionRecord(r.pointee, timeouts: timeouts, now: now), now: now, reason: why)
    }

    /// A host block for one table; `timeouts` must outlive it.
    static func make(seed: UInt32?, timeouts: UnsafeMutablePointer<Timeouts>) -> UnsafeMutablePointer<ctb_host> {
        let h = UnsafeMutablePointer<ctb_host>.allocate(capacity: 1)
        h.initialize(to: ctb_host(
            abi_version: CTB_ABI_VERSION, has_hash_seed: seed != nil ? 1 : 0, hash_seed: seed ?? 0, reserved: 0,
            harness: UnsafeMutableRawPointer(timeouts),
            will_acquire: willAcquire, will_wait: willWait, acquired: acquired, released: released,
            tracker_init: trackerInit, tracker_update: trackerUpdate, tracker_timeout: trackerTimeout,
            tracker_established: trackerEstablished, hash: hash, trace_state: traceState, trace_event: traceEvent))
        return h
    }
}

// Conversions between the ABI's plain structures and the harness's types.
extension TupleID {
    @inline(__always)
    init(_ t: ctb_tuple) {
        self.init(srcAddr: IPAddress(hi: t.src_hi, lo: t.src_lo), srcPort: t.src_port,
                  dstAddr: IPAddress(hi: t.dst_hi, lo: t.dst_lo), dstPort: t.dst_port,
                  transProto: TransProto(rawValue: t.trans_proto) ?? .tcp,
                  netProto: NetProto(rawValue: t.net_proto) ?? .ipv4)
    }

    @inline(__always)
    var abi: ctb_tuple {
        ctb_tuple(src_hi: srcAddr.hi, src_lo: srcAddr.lo, dst_hi: dstAddr.hi, dst_lo: dstAddr.lo,
                  src_port: srcPort, dst_port: dstPort, trans_proto: transProto.rawValue, reserved: 0,
                  net_proto: netProto.rawValue)
    }
}

extension Packet {
    @inline(__always)
    var abi: ctb_packet {
        var c = ctb_packet()
        c.id = id.abi
        c.reply = replyForNewConnection.abi
        c.tcp.seq = tcp.seq
        c.tcp.ack = tcp.ack
        c.tcp.window = tcp.window
        c.tcp.payload_length = tcp.payloadLength
        c.tcp.flags = tcp.flags.rawValue
        c.timestamp = timestamp
        c.hook = hook.rawValue
        c.nat = nat ? 1 : 0
        return c
    }
}

extension ConnectionRecord {
    /// A plugin's record, with `timeoutLeft` computed at `now` under `timeouts`.
    init(_ r: ctb_record, timeouts: Timeouts, now: Int64) {
        var st = r.tracker
        let s = withUnsafeMutablePointer(to: &st) { PluginHost.state($0).pointee }
        let original = TupleID(r.original)
        let t = timeouts.timeout(proto: original.transProto, tcb: s.tcb, udp: s.udp)
        self.init(original: original, reply: TupleID(r.reply), hook: s.hook, nat: r.nat != 0, tcb: s.tcb, udp: s.udp,
                  lastUsed: r.last_used, timeoutLeft: r.last_used &+ t &- now)
    }

    var abi: ctb_record {
        var r = ctb_record()
        r.original = original.abi
        r.reply = reply.abi
        r.last_used = lastUsed
        r.nat = nat ? 1 : 0
        withUnsafeMutablePointer(to: &r.tracker) { PluginHost.state($0).initialize(to: HostTrackerState(tcb: tcb, udp: udp, hook: hook)) }
        return r
    }
}
