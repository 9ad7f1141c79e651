/// A packet as the table sees it: its tuple, its TCP fields (ignored for
/// UDP), the hook it is processed on, and, for a NAT-redirected flow, the
/// redirect target the reply will come from.
public struct Packet: Sendable, Equatable {
    public var id: TupleID
    public var tcp: TCPSegment
    public var hook: Hook
    /// Nanoseconds on the run's clock (virtual time in deterministic runs).
    public var timestamp: Int64
    public var natAddr: IPAddress
    public var natPort: UInt16
    public var nat: Bool

    @inlinable
    public init(id: TupleID, tcp: TCPSegment = TCPSegment(flags: [], seq: 0), hook: Hook, timestamp: Int64 = 0,
                nat: (IPAddress, UInt16)? = nil) {
        self.id = id; self.tcp = tcp; self.hook = hook; self.timestamp = timestamp
        self.nat = nat != nil
        self.natAddr = nat?.0 ?? IPAddress(hi: 0, lo: 0)
        self.natPort = nat?.1 ?? 0
    }

    /// The packet as a tracker sees it when handed the TCP header alone
    /// (the 2020 code): no payload.
    @inlinable public var headerOnly: Packet {
        var p = self
        p.tcp.payloadLength = 0
        return p
    }

    /// The reply tuple of a connection this packet creates.
    @inlinable public var replyForNewConnection: TupleID {
        nat ? id.redirectedReply(to: natAddr, port: natPort) : id.reversed
    }
}
