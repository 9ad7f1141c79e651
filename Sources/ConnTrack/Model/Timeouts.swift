/// How long an idle connection lives, by tracker state. The seed hard-codes
/// a pair (its own TODO); here every value is configurable and a Linux-like
/// per-state table can be chosen instead.
public struct Timeouts: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Alive: `established`; anything else: `other` (the seed).
        case seed
        /// nf_conntrack's per-state TCP timeouts.
        case linux
        /// Open vSwitch userspace conntrack's defaults (`ct_dpif_netdev_tp_def`
        /// in lib/conntrack-tp.c, `CT_TIMEOUTS` in lib/conntrack-private.h),
        /// on the per-state table: see `Timeouts.ovs`.
        case ovs
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

    public init(mode: Mode = .seed) {
        self.mode = mode
        if mode == .ovs { self = .ovs }
    }

    /// OVS's default timeout policy, each OVS class on the state it covers:
    /// TCP_FIRST_PACKET (SYN_SENT attr) 30 s; TCP_ESTABLISHED 24 h;
    /// TCP_CLOSING (one FIN seen; FIN_WAIT attr) 15 min, for FIN_WAIT and
    /// CLOSE_WAIT here; TCP_FIN_WAIT (both FINs; TIME_WAIT attr) 45 s, for
    /// LAST_ACK; TCP_CLOSED (both FINs acknowledged, or a reset; CLOSE attr)
    /// 30 s, for TIME_WAIT and CLOSE; UDP (OVS's "other") first and single
    /// 60 s, bidirectional 30 s. TCP_OPENING (SYN_RECV attr, 30 s) has no
    /// state of its own here: the tracker reports the SYN-ACK as alive.
    public static var ovs: Timeouts {
        var t = Timeouts()
        t.mode = .ovs
        t.synSent = 30 * Duration_ns.second
        t.established = 86_400 * Duration_ns.second
        t.finWait = 900 * Duration_ns.second
        t.closeWait = 900 * Duration_ns.second
        t.lastAck = 45 * Duration_ns.second
        t.timeWait = 30 * Duration_ns.second
        t.close = 30 * Duration_ns.second
        t.other = 30 * Duration_ns.second
        t.udp = 60 * Duration_ns.second
        t.udpStream = 30 * Duration_ns.second
        return t
    }

    /// The longest any connection that is not established may stay: how
    /// long an ended flow's connection lingers at most (the soak's warm-up,
    /// a workload's table size).
    public var longestUnestablished: Int64 {
        [other, synSent, finWait, closeWait, lastAck, timeWait, close, udp, udpStream].max()!
    }

    /// Timeout of a connection in this tracker state.

    public func timeout(proto: TransProto, tcb: TCB, udp udpState: UDPState) -> Int64 {
        inlinedTimeout(proto: proto, tcb: tcb, udp: udpState)
    }

    /// `timeout`, always inlined: a caller holding the state behind a
    /// pointer (the plugin's tracker service) then loads only the fields
    /// read. The built-in designs call `timeout` and leave the choice to
    /// the optimiser (forcing it there outlines their reaping helpers).
    @inline(__always)
    func inlinedTimeout(proto: TransProto, tcb: TCB, udp udpState: UDPState) -> Int64 {
        if proto == .udp { return udpState.replied ? udpStream : udp }
        // A block holding OVS's tracker (the `ovs` design) carries its
        // timeout class. It is in gVisor's `drop` state, so it is looked
        // for only there: an established gVisor block costs nothing more.
        switch mode {
        case .seed:
            if tcb.state == .alive { return established }
            return tcb.holdsOVSTCP ? ovsTCP(tcb.ovsTimeoutUnchecked) : other
        case .linux, .ovs:
            if tcb.holdsOVSTCP { return ovsTCP(tcb.ovsTimeoutUnchecked) }
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
