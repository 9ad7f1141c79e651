// A `linux` connection's state travels in a record's tracker fields, so
// that every path that carries records (export, import, saved tables,
// dumps) carries it unchanged. Times are kept relative to `lastUsed`, so a
// saved table rebased to another clock epoch stays right.
extension LinuxConntrackRecord {
    /// Marks a tracker block that holds a Linux state ("LNUX").
    static let magic: UInt32 = 0x4C4E_5558

    /// The state packed into a tracker block: inbound stream: state,
    /// last index, last direction and close-init bits; last end; flags;
    /// the marker. Outbound stream: expiry and stream time, as 64-bit
    /// offsets from `lastUsed`.
    public func encoded(lastUsed: Int64) -> TCB {
        var a = TCPStream(), b = TCPStream()
        a.una = UInt32(tcp.state.rawValue) | UInt32(tcp.lastIndex.rawValue) << 8 | UInt32(tcp.lastDir) << 16
            | UInt32(tcp.closeInit) << 24
        a.nxt = tcp.lastEnd
        a.end = (tcp.simultaneousOpen ? 1 : 0) | (seenReply ? 2 : 0) | (assured ? 4 : 0)
        a.fin = Self.magic
        let e = UInt64(bitPattern: expires &- lastUsed), s = UInt64(bitPattern: streamAt &- lastUsed)
        b.una = UInt32(truncatingIfNeeded: e); b.nxt = UInt32(truncatingIfNeeded: e >> 32)
        b.end = UInt32(truncatingIfNeeded: s); b.fin = UInt32(truncatingIfNeeded: s >> 32)
        return TCB(state: .drop, phase: .synSent, firstFin: .none, inbound: a, outbound: b)
    }

    /// The state a tracker block holds, or nil when it is not a Linux one.
    public init?(decoding t: TCB, lastUsed: Int64) {
        let a = t.inbound, b = t.outbound
        guard a.fin == Self.magic, t.state == .drop,
              let state = LinuxTCPConntrackState(rawValue: UInt8(truncatingIfNeeded: a.una)),
              let index = LinuxTCPIndex(rawValue: UInt8(truncatingIfNeeded: a.una >> 8)) else { return nil }
        var tcp = LinuxTCPConntrack(state: state)
        tcp.lastIndex = index
        tcp.lastDir = UInt8(truncatingIfNeeded: a.una >> 16) & 1
        tcp.closeInit = UInt8(truncatingIfNeeded: a.una >> 24) & 3
        tcp.lastEnd = a.nxt
        tcp.simultaneousOpen = a.end & 1 != 0
        let e = Int64(bitPattern: UInt64(b.una) | UInt64(b.nxt) << 32)
        let s = Int64(bitPattern: UInt64(b.end) | UInt64(b.fin) << 32)
        self.init(tcp: tcp, seenReply: a.end & 2 != 0, assured: a.end & 4 != 0,
                  expires: lastUsed &+ e, streamAt: lastUsed &+ s)
    }

    /// The record's Linux state, when it holds one.
    public init?(_ r: ConnectionRecord) { self.init(decoding: r.tcb, lastUsed: r.lastUsed) }
}
