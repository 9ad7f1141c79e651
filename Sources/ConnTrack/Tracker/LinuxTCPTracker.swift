/// nf_conntrack's TCP states, numbered as the kernel numbers them (the
/// column index of its transition table), with `conntrack -L` names.
/// Facts: docs/linux-design.md ("Tracker").
public enum LinuxTCPConntrackState: UInt8, Sendable, Codable, CaseIterable {
    case none = 0, synSent, synRecv, established, finWait, closeWait, lastAck, timeWait, close, synSent2

    /// The same state as the trace and listings name it.
    public var traceState: LinuxTCPState {
        switch self {
        case .none: return .none
        case .synSent: return .synSent
        case .synRecv: return .synRecv
        case .established: return .established
        case .finWait: return .finWait
        case .closeWait: return .closeWait
        case .lastAck: return .lastAck
        case .timeWait: return .timeWait
        case .close: return .close
        case .synSent2: return .synSent2
        }
    }

    /// The name `conntrack -L` and `conntrack -E` print.
    public var name: String {
        switch self {
        case .none: return "NONE"
        case .synSent: return "SYN_SENT"
        case .synRecv: return "SYN_RECV"
        case .established: return "ESTABLISHED"
        case .finWait: return "FIN_WAIT"
        case .closeWait: return "CLOSE_WAIT"
        case .lastAck: return "LAST_ACK"
        case .timeWait: return "TIME_WAIT"
        case .close: return "CLOSE"
        case .synSent2: return "SYN_SENT2"
        }
    }
}

/// Which row of the transition table a segment selects, in the kernel's
/// order of precedence: RST, then SYN (with or without ACK), FIN, ACK, none.
public enum LinuxTCPIndex: UInt8, Sendable, Codable, CaseIterable {
    case syn = 0, synAck, fin, ack, rst, none

    @inline(__always)
    public init(_ f: TCPFlags) {
        if f.contains(.rst) { self = .rst }
        else if f.contains(.syn) { self = f.contains(.ack) ? .synAck : .syn }
        else if f.contains(.fin) { self = .fin }
        else if f.contains(.ack) { self = .ack }
        else { self = .none }
    }
}

/// The per-connection TCP state Linux keeps that this tracker models
/// (`struct ip_ct_tcp`, reduced: no windows; see "Window checking" in
/// docs/linux-design.md). 12 bytes, a plain value.
public struct LinuxTCPConntrack: Sendable, Hashable, Codable {
    public var state: LinuxTCPConntrackState = .none
    /// The row of the last segment taken (or ignored), and its direction
    /// (0 original, 1 reply): `last_index`, `last_dir`.
    public var lastIndex: LinuxTCPIndex = .none
    public var lastDir: UInt8 = 0
    /// Bit d: direction d sent the FIN that began the close
    /// (`IP_CT_TCP_FLAG_CLOSE_INIT` in `seen[d].flags`).
    public var closeInit: UInt8 = 0
    /// A SYN came from both sides (`IP_CT_TCP_SIMULTANEOUS_OPEN`).
    public var simultaneousOpen = false
    /// seq + length of the last segment (`last_end`): lets a SYN-ACK that
    /// answers an ignored SYN, and an RST, be matched to it.
    public var lastEnd: UInt32 = 0

    public init() {}

    public init(state: LinuxTCPConntrackState) { self.state = state }
}

/// What `LinuxTCPConntrack.packet` decided, with what the table must do.
public enum LinuxTCPVerdict: Sendable, Equatable {
    /// Taken: refresh the connection to `timeout` nanoseconds (nil: do not
    /// refresh, as for a retransmitted SYN before any reply), and set
    /// ASSURED when `assure`.
    case accept(timeout: Int64?, assure: Bool)
    /// Taken, and the connection is to be removed now (an RST before any
    /// reply: `nf_ct_kill_acct`).
    case acceptAndKill
    /// Ignored (`TCP_CONNTRACK_IGNORE`): accepted, nothing refreshed.
    case ignored
    /// Invalid (`TCP_CONNTRACK_MAX`): not accepted; counted `invalid`.
    case invalid
    /// A new SYN on a closed or closing connection: remove it and look the
    /// packet up again, which creates a new connection (`-NF_REPEAT`).
    case reopen
}

/// Linux's default TCP and UDP timeouts (`tcp_timeouts`,
/// `udp_timeouts`), in nanoseconds; the table takes the configurable ones
/// from `Timeouts` (whose defaults are Linux's).
public struct LinuxTimeouts: Sendable, Equatable {
    public var synSent: Int64 = 120 * Duration_ns.second
    public var synRecv: Int64 = 60 * Duration_ns.second
    public var established: Int64 = 5 * Duration_ns.day
    public var finWait: Int64 = 120 * Duration_ns.second
    public var closeWait: Int64 = 60 * Duration_ns.second
    public var lastAck: Int64 = 30 * Duration_ns.second
    public var timeWait: Int64 = 120 * Duration_ns.second
    public var close: Int64 = 10 * Duration_ns.second
    public var synSent2: Int64 = 120 * Duration_ns.second
    /// `TCP_CONNTRACK_UNACK`: caps a picked-up connection's timeout.
    public var unack: Int64 = 300 * Duration_ns.second
    public var udpUnreplied: Int64 = 30 * Duration_ns.second
    public var udpReplied: Int64 = 120 * Duration_ns.second
    /// A replied UDP flow becomes a stream (longer timeout, ASSURED) once
    /// it is still active this long after its creation (`stream_ts`).
    public var udpStreamAfter: Int64 = 2 * Duration_ns.second

    public init() {}

    /// Linux's defaults with the values `Timeouts` makes configurable
    /// (their defaults are Linux's).
    public init(_ t: Timeouts) {
        established = t.established
        synSent = t.synSent; finWait = t.finWait; closeWait = t.closeWait
        lastAck = t.lastAck; timeWait = t.timeWait; close = t.close
        udpUnreplied = t.udp; udpReplied = t.udpStream
    }

    @inline(__always)
    public subscript(_ s: LinuxTCPConntrackState) -> Int64 {
        switch s {
        case .none, .synSent: return synSent
        case .synRecv: return synRecv
        case .established: return established
        case .finWait: return finWait
        case .closeWait: return closeWait
        case .lastAck: return lastAck
        case .timeWait: return timeWait
        case .close: return close
        case .synSent2: return synSent2
        }
    }
}

extension LinuxTCPConntrack {
    /// Table cells beyond the states: invalid and ignore.
    static let sIV: UInt8 = 10
    static let sIG: UInt8 = 11

    /// Linux's `tcp_conntracks[direction][index][state]` (6.x), flattened:
    /// entry `dir * 60 + index * 10 + state`. Written from the facts in
    /// docs/linux-design.md; `LinuxTCPTrackerTests` checks every cell.
    static let table: InlineArray<120, UInt8> = [
        // ORIGINAL: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
        /* syn    */ 1, 1, 11, 11, 11, 11, 11, 1, 1, 9,
        /* synack */ 10, 10, 2, 10, 10, 10, 10, 10, 10, 2,
        /* fin    */ 10, 10, 4, 4, 6, 6, 6, 7, 8, 10,
        /* ack    */ 3, 10, 3, 3, 5, 5, 7, 7, 8, 10,
        /* rst    */ 10, 8, 8, 8, 8, 8, 8, 8, 8, 8,
        /* none   */ 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
        // REPLY:    sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
        /* syn    */ 10, 9, 10, 10, 10, 10, 10, 1, 10, 9,
        /* synack */ 10, 2, 11, 11, 11, 11, 11, 11, 11, 2,
        /* fin    */ 10, 10, 4, 4, 6, 6, 6, 7, 8, 10,
        /* ack    */ 10, 11, 2, 3, 5, 5, 7, 7, 8, 11,
        /* rst    */ 10, 8, 8, 8, 8, 8, 8, 8, 8, 8,
        /* none   */ 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
    ]

    /// The table's cell: a state's raw value, `sIV` or `sIG`.
    @inline(__always)
    public static func transition(dir: Int, _ index: LinuxTCPIndex, _ state: LinuxTCPConntrackState) -> UInt8 {
        table[dir &* 60 &+ Int(index.rawValue) &* 10 &+ Int(state.rawValue)]
    }

    @inline(__always)
    static func end(_ seg: TCPSegment) -> UInt32 { seg.seq &+ seg.logicalLength }

    /// `tcp_new`: the state of a connection created by `seg` (from NONE in
    /// the original direction); nil when Linux refuses to create one
    /// (a SYN-ACK, FIN, RST or flagless first segment). An ACK picks up a
    /// connection in the middle (`nf_conntrack_tcp_loose`, on by default).
    public static func new(_ seg: TCPSegment) -> LinuxTCPConntrack? {
        let s = transition(dir: 0, LinuxTCPIndex(seg.flags), .none)
        guard s < sIV else { return nil }
        var t = LinuxTCPConntrack()
        // `tcp_packet` then runs on the same segment from NONE.
        t.lastIndex = .none
        return t
    }

    /// `nf_conntrack_tcp_packet` for one segment in direction `dir` (0
    /// original, 1 reply) of a connection whose status has `seenReply`
    /// and `assured` (before this packet). Mutates the state as Linux
    /// does under `ct->lock`; the table applies the verdict.
    public mutating func packet(_ seg: TCPSegment, dir: Int, seenReply: Bool, assured: Bool,
                                timeouts: LinuxTimeouts) -> LinuxTCPVerdict {
        let oldState = state
        let index = LinuxTCPIndex(seg.flags)
        var cell = Self.transition(dir: dir, index, oldState)
        let d = UInt8(dir)
        var ignore = cell == Self.sIG
        if cell == LinuxTCPConntrackState.synSent.rawValue && oldState.rawValue >= LinuxTCPConntrackState.timeWait.rawValue {
            // A SYN on a closed or closing connection: reopen it (RFC 1122)
            // when a FIN began the close, or the same side reset it last.
            if closeInit != 0 || (lastDir == d && lastIndex == .rst) { return .reopen }
            ignore = true
        }
        if ignore {
            // A SYN-ACK answering a SYN that was ignored before: the ends
            // are in sync and the tracker is not; take the handshake up.
            if index == .synAck && lastIndex == .syn && lastDir != d && seg.ack == lastEnd {
                cell = LinuxTCPConntrackState.synRecv.rawValue
            } else {
                lastIndex = index
                lastDir = d
                lastEnd = Self.end(seg)
                return .ignored
            }
        }
        if cell == Self.sIV { return .invalid }
        var newState = LinuxTCPConntrackState(rawValue: cell).unsafelyUnwrapped
        switch newState {
        case .timeWait:
            // RFC 5961 challenge ACK answering a SYN: not the last ACK.
            if oldState == .lastAck && index == .ack && lastDir != d && lastIndex == .syn
                && closeInit & (1 << d) != 0 {
                closeInit &= ~(1 << d)
                return .accept(timeout: nil, assure: false)
            }
        case .synSent2:
            simultaneousOpen = true
        case .synRecv:
            if dir == 1 && index == .ack && simultaneousOpen { newState = .established }
        default:
            break
        }
        // In window (window checking is not modelled: every segment is).
        lastIndex = index
        lastDir = d
        lastEnd = Self.end(seg)
        state = newState
        if oldState != newState && newState == .finWait { closeInit |= 1 << d }
        var timeout = index == .rst ? timeouts.close : timeouts[newState]
        if !seenReply {
            // An RST before any reply: the connection is deleted at once.
            if index == .rst { return .acceptAndKill }
            // A retransmitted SYN does not renew the timeout.
            if index == .syn && oldState == .synSent { return .accept(timeout: nil, assure: false) }
            // A connection picked up in the middle, not answered yet.
            if newState == .established && timeout > timeouts.unack { timeout = timeouts.unack }
            return .accept(timeout: timeout, assure: false)
        }
        let assure = !assured && (oldState == .synRecv || oldState == .established) && newState == .established
        return .accept(timeout: timeout, assure: assure)
    }
}
