/// How long an idle connection lives, by tracker state. The seed hard-codes
/// a pair (its own TODO); here every value is configurable and a Linux-like
/// per-state table can be chosen instead.
public struct Timeouts: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Alive: `established`; anything else: `other` (the seed).
        case seed
        /// nf_conntrack's per-state TCP timeouts.
        case linux
    }

    public var mode: Mode = .seed
    public var established: Int64 = 5 * Duration_ns.day
    public var other: Int64 = 120 * Duration_ns.second
    // Linux table. SYN_RECV is not listed: gVisor's tracker reports Alive
    // from the SYN-ACK on, so that state cannot be told apart.
    public var synSent: Int64 = 120 * Duration_ns.second
    public var finWait: Int64 = 120 * Duration_ns.second
    public var closeWait: Int64 = 60 * Duration_ns.second
    public var lastAck: Int64 = 30 * Duration_ns.second
    public var timeWait: Int64 = 120 * Duration_ns.second
    public var close: Int64 = 10 * Duration_ns.second
    // UDP in both modes: unreplied, then replied ("stream").
    public var udp: Int64 = 30 * Duration_ns.second
    public var udpStream: Int64 = 120 * Duration_ns.second

    public init(mode: Mode = .seed) { self.mode = mode }

    /// Timeout of a connection in this tracker state.

    public func timeout(proto: TransProto, tcb: TCB, udp udpState: UDPState) -> Int64 {
        if proto == .udp { return udpState.replied ? udpStream : udp }
        switch mode {
        case .seed:
            return tcb.state == .alive ? established : other
        case .linux:
            switch tcb.linuxState {
            case .none, .synSent: return synSent
            // Never derived from gVisor's tracker (see `LinuxTCPState`).
            case .synRecv, .synSent2: return synSent
            case .established: return established
            case .finWait: return finWait
            case .closeWait: return closeWait
            case .lastAck: return lastAck
            case .timeWait: return timeWait
            case .close: return close
            }
        }
    }
}
