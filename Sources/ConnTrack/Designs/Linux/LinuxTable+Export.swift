import Sync
import struct Synchronization.Atomic

// Export and import. Every chain is in descending insertion order (push to
// the front; removal never reorders), so an order in which each connection
// comes after the older neighbours of both its nodes, re-inserted the same
// way (original node, then reply node), rebuilds every chain exactly.
extension LinuxTable {
    /// Calls `body` with every node link of bucket b's chain, in order.
    @inline(__always)
    func forEachNode(bucket b: Int, _ body: (LinuxConn, Int) -> Void) {
        forEachNode(bucket: b, heads: ht.heads, body)
    }

    /// The same in the table of `heads`.
    @inline(__always)
    func forEachNode(bucket b: Int, heads: UnsafeMutablePointer<Atomic<UInt>>, _ body: (LinuxConn, Int) -> Void) {
        var v = heads[b].load(ordering: .acquiring)
        while v & 1 == 0 {
            let c = LinuxConn(link: v)
            let d = LinuxConn.direction(v)
            body(c, d)
            v = c.next(d).pointee.load(ordering: .acquiring)
        }
    }

    /// Connections oldest first, an order consistent with every chain
    /// (Kahn's algorithm over "older neighbour → connection", seeded in
    /// bucket order). `serial` holds each one's index meanwhile.
    /// Preconditions: no other thread changes the table.
    func connectionsInInsertionOrder() -> [LinuxConn] {
        let unseen = UInt64.max
        for b in 0..<bucketCount { forEachNode(bucket: b) { c, _ in c.serial.pointee = unseen } }
        var conns: [LinuxConn] = []
        for b in 0..<bucketCount {
            forEachNode(bucket: b) { c, _ in
                if c.serial.pointee == unseen { c.serial.pointee = UInt64(conns.count); conns.append(c) }
            }
        }
        var edges: [(older: Int32, newer: Int32)] = []
        for b in 0..<bucketCount {
            forEachNode(bucket: b) { c, d in
                let nv = c.next(d).pointee.load(ordering: .relaxed)
                if nv & 1 == 0 {
                    let older = LinuxConn(link: nv)
                    if older != c { edges.append((Int32(older.serial.pointee), Int32(c.serial.pointee))) }
                }
            }
        }
        let order = InsertionOrder.indices(count: conns.count, edges: edges).map { conns[Int($0)] }
        for c in conns { c.serial.pointee = 0 }
        return order
    }

    /// The connection as a record, read under its lock. Its Linux state
    /// travels packed in the record's tracker fields
    /// (`LinuxConntrackRecord.encoded`), which saved tables keep.
    func record(_ c: LinuxConn, now: Int64, _ ctx: inout WorkerContext) -> ConnectionRecord {
        lockConn(c, &ctx)
        let locked = c.locked.pointee
        unlockConn(c, &ctx)
        let k = c.keys.pointee
        let status = c.status.pointee.load(ordering: .acquiring)
        let expires = c.expires.pointee.load(ordering: .relaxed)
        var udp = UDPState()
        udp.initialised = true
        udp.replied = status & LinuxStatus.seenReply != 0
        let l = LinuxConntrackRecord(tcp: locked.tcp, seenReply: status & LinuxStatus.seenReply != 0,
                                     assured: status & LinuxStatus.assured != 0, expires: expires, streamAt: k.streamAt)
        var r = ConnectionRecord(original: k.original, reply: k.reply, hook: k.hook, nat: k.nat,
                                 tcb: l.encoded(lastUsed: locked.lastUsed), udp: udp, lastUsed: locked.lastUsed,
                                 timeoutLeft: expires &- now)
        r.ownState = l.traceState(udp: k.original.transProto == .udp)
        return r
    }

    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        for c in connectionsInInsertionOrder() { body(record(c, now: now, &ctx)) }
    }

    /// The Linux state of a record another design saved: its TCP state
    /// from the gVisor tracker's Linux name, replied and assured from its
    /// flags, the expiry from `lastUsed` and this table's timeouts.
    func linuxState(of r: ConnectionRecord) -> LinuxConntrackRecord {
        if let l = LinuxConntrackRecord(decoding: r.tcb, lastUsed: r.lastUsed) { return l }
        if r.original.transProto == .udp {
            let t = r.udp.replied ? timeouts.udpReplied : timeouts.udpUnreplied
            return LinuxConntrackRecord(tcp: LinuxTCPConntrack(), seenReply: r.udp.replied, assured: r.udp.replied,
                                        expires: r.lastUsed &+ t, streamAt: r.lastUsed)
        }
        let s: LinuxTCPConntrackState = switch r.tcb.linuxState {
        case .none: .none
        case .synSent: .synSent
        case .synRecv: .synRecv
        case .synSent2: .synSent2
        case .established: .established
        case .finWait: .finWait
        case .closeWait: .closeWait
        case .lastAck: .lastAck
        case .timeWait: .timeWait
        case .close: .close
        }
        return LinuxConntrackRecord(tcp: LinuxTCPConntrack(state: s), seenReply: r.tcb.seenReply, assured: r.tcb.assured,
                                    expires: r.lastUsed &+ timeouts[s], streamAt: r.lastUsed)
    }

    /// Inserts `records` in order, as confirmation links them (no clash or
    /// chain-length check: the records come from a table that held them).
    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        try records.validateForImport(allowDuplicateIDs: false)
        try limit.checkImport(records.count)
        precondition(connectionsInInsertionOrder().isEmpty, "import needs an empty table")
        for r in records {
            let l = linuxState(of: r)
            let c = LinuxConn.make(original: r.original, reply: r.reply, hook: r.hook, nat: r.nat, streamAt: l.streamAt,
                                   tcp: l.tcp, lastUsed: r.lastUsed)
            c.expires.pointee.store(l.expires, ordering: .relaxed)
            var status = LinuxStatus.confirmed
            if l.seenReply { status |= LinuxStatus.seenReply }
            if l.assured { status |= LinuxStatus.assured }
            c.status.pointee.store(status, ordering: .relaxed)
            c.refs.pointee.store(1, ordering: .relaxed)
            let locked = lockBuckets(hash(r.original), hash(r.reply), &ctx)
            pushFront(c, 0, locked.b1, heads: locked.table.heads)
            pushFront(c, 1, locked.b2, heads: locked.table.heads)
            doubleUnlock(locked.held, &ctx)
        }
        limit.noteImported(records.count)
    }
}

/// A `linux` connection's state, as export and import carry it.
public struct LinuxConntrackRecord: Sendable, Hashable, Codable {
    public var tcp: LinuxTCPConntrack
    /// `IPS_SEEN_REPLY` and `IPS_ASSURED`.
    public var seenReply: Bool
    public var assured: Bool
    /// When it expires (`ct->timeout`), on the table's clock.
    public var expires: Int64
    /// UDP: when a replied flow counts as a stream.
    public var streamAt: Int64

    public init(tcp: LinuxTCPConntrack, seenReply: Bool, assured: Bool, expires: Int64, streamAt: Int64) {
        self.tcp = tcp; self.seenReply = seenReply; self.assured = assured; self.expires = expires; self.streamAt = streamAt
    }

    /// `[UNREPLIED]` is printed without SEEN_REPLY.
    public var unreplied: Bool { !seenReply }

    /// What `--events` and `--dump` print: Linux's state and flags.
    public func traceState(udp: Bool) -> ConnTraceState {
        ConnTraceState(state: udp ? nil : tcp.state.traceState, unreplied: !seenReply, assured: assured)
    }
}
