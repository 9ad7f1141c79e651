/// nf_conntrack's TCP states, as `conntrack -L` prints them.
public enum LinuxTCPState: String, Sendable, Codable, CaseIterable {
    case none = "NONE"
    case synSent = "SYN_SENT"
    /// Not produced by gVisor's tracker (it goes from SYN_SENT to
    /// ESTABLISHED on the SYN-ACK); for designs with Linux's own state
    /// machine, reported through `ConnectionRecord.ownState`.
    case synRecv = "SYN_RECV"
    case established = "ESTABLISHED"
    case finWait = "FIN_WAIT"
    case closeWait = "CLOSE_WAIT"
    case lastAck = "LAST_ACK"
    case timeWait = "TIME_WAIT"
    case close = "CLOSE"
    /// Simultaneous open (a SYN from both sides): Linux's own state
    /// machine only (the `linux` design), never derived from gVisor's.
    case synSent2 = "SYN_SENT2"
}

extension TCB {
    /// The Linux state this tracker state corresponds to. gVisor's tracker
    /// reports Alive from the SYN-ACK on, so SYN_RECV is not told apart
    /// from ESTABLISHED. Linux enters FIN_WAIT on the first FIN from either
    /// side, CLOSE_WAIT once that FIN is acknowledged, LAST_ACK on the
    /// second FIN, and TIME_WAIT once both are acknowledged.
    @inline(__always)
    public var linuxState: LinuxTCPState {
        switch state {
        case .drop: return isEmpty ? .none : .synSent
        case .connecting: return .synSent
        case .reset: return .close
        case .closedByPeer, .closedBySelf: return .timeWait
        case .alive:
            switch (outbound.finSeen, inbound.finSeen) {
            case (false, false): return .established
            case (true, true): return .lastAck
            case (true, false): return outbound.closed ? .closeWait : .finWait
            case (false, true): return inbound.closed ? .closeWait : .finWait
            }
        }
    }

    /// The reply side's SYN-ACK was accepted (Linux's IPS_SEEN_REPLY:
    /// `conntrack -L` prints [UNREPLIED] without it). An RST answering the
    /// SYN does not count: Linux destroys such an entry still unreplied.
    public var seenReply: Bool { phase == .established }

    /// Linux's IPS_ASSURED, approximated: the reply side's SYN-ACK was
    /// accepted. (Linux waits for the handshake's final ACK, which this
    /// tracker does not record apart.)
    public var assured: Bool { phase == .established }
}
