/// What happened to a connection, as `conntrack -E` names it.
public enum ConnEventKind: UInt8, Sendable, CaseIterable {
    /// Created (`[NEW]`).
    case new
    /// Its state, or its [ASSURED]/[UNREPLIED] flags, changed (`[UPDATE]`).
    case update
    /// Removed (`[DESTROY]`).
    case destroy

    /// The tag as `conntrack -E` prints it, right-aligned in 9 columns.
    public var tag: String {
        switch self {
        case .new: "    [NEW]"
        case .update: " [UPDATE]"
        case .destroy: "[DESTROY]"
        }
    }
}

/// Why a connection was removed (a `[DESTROY]` event's cause; not printed
/// by `conntrack -E`, kept for the design's own checks and counts).
public enum RemovalReason: UInt8, Sendable, CaseIterable {
    case none
    /// Found expired on the packet path and removed there.
    case inline
    /// Removed by a reaper pass.
    case reaper
    /// Dropped at the connection limit to make room (`early_drop`).
    case earlyDrop
    /// Any other removal (a design's own rule, e.g. a reopened tuple).
    case other
}

/// The part of a connection's state that `conntrack -E` reports as a
/// change: the TCP state name and the [UNREPLIED]/[ASSURED] flags. An
/// `[UPDATE]` is recorded exactly when this differs before and after a
/// packet. The rules are `conntrack -L`'s in this package
/// (`ConntrackListing`): TCP from `TCB.linuxState`, `seenReply`,
/// `assured`; UDP has no state, is unreplied until a reply-side packet and
/// assured from then on.
public struct ConnTraceState: Sendable, Hashable, Codable {
    /// nil for UDP (conntrack prints no state for it).
    public var state: LinuxTCPState?
    public var unreplied: Bool
    public var assured: Bool

    @inlinable
    public init(proto: TransProto, tcb: TCB, udp: UDPState) {
        if proto == .udp {
            state = nil; unreplied = !udp.replied; assured = udp.replied
        } else if let o = tcb.ovsTCP {
            // OVS's tracker (the `ovs` design) names its own state.
            self = o.traceState
        } else {
            state = tcb.linuxState; unreplied = !tcb.seenReply; assured = tcb.assured
        }
    }

    /// A design's own state, given as is.
    public init(state: LinuxTCPState?, unreplied: Bool, assured: Bool) {
        self.state = state; self.unreplied = unreplied; self.assured = assured
    }

    /// A record's state: its design's own (`ownState`) or derived.
    public init(_ r: ConnectionRecord) {
        self = r.ownState ?? ConnTraceState(proto: r.original.transProto, tcb: r.tcb, udp: r.udp)
    }
}

/// One event as a lane records it: plain data (no references), so lanes
/// spill their buffers to files byte for byte. `time`, `lane`, `index`
/// and `seq` order the events of a run (`TraceLane`); `record` is the
/// connection after the event (for `[DESTROY]`, as it was removed).
public struct ConnEvent: Sendable {
    /// Nanoseconds on the run's clock.
    public var time: Int64
    /// The packet in progress on the lane (its index in the lane's input),
    /// or the reaper lane's running count.
    public var index: UInt64
    public var seq: UInt32
    public var lane: Int32
    public var kind: ConnEventKind
    public var reason: RemovalReason
    public var record: ConnectionRecord
}
