/// One connection as plain data: what export yields and import takes.
/// Both tuples in their directions (the original as first seen, the reply
/// as the other side sends it, NAT-redirected or not), the hook whose
/// packets the tracker counts as outbound, the tracker state with both
/// streams, and `lastUsed` on the table's clock.
public struct ConnectionRecord: Sendable, Hashable, Codable {
    /// The tuple in the original direction.
    public var original: TupleID
    /// The tuple in the reply direction.
    public var reply: TupleID
    /// The hook that initialised the tracker (its outbound side).
    public var hook: Hook
    /// The reply is redirected (NAT): it is not `original.reversed`.
    public var nat: Bool
    /// TCP tracker state, inbound and outbound streams (ignored for UDP).
    public var tcb: TCB
    public var udp: UDPState
    /// Nanoseconds on the table's clock.
    public var lastUsed: Int64
    /// Nanoseconds left before the connection times out at the export's
    /// `now` (negative: expired). Derived; import ignores it.
    public var timeoutLeft: Int64
    /// The state as the design's own tracker names it, when that tracker
    /// is not gVisor's (e.g. Linux's SYN_RECV, or its own [ASSURED] rule);
    /// nil: derived from `tcb` and `udp` (`ConnTraceState`). What
    /// `--events` and `--dump` print. Not kept by save/restore.
    public var ownState: ConnTraceState? = nil

    public init(original: TupleID, reply: TupleID, hook: Hook, nat: Bool, tcb: TCB, udp: UDPState,
                lastUsed: Int64, timeoutLeft: Int64) {
        self.original = original; self.reply = reply; self.hook = hook; self.nat = nat
        self.tcb = tcb; self.udp = udp; self.lastUsed = lastUsed; self.timeoutLeft = timeoutLeft
    }
}

/// Why an import was refused; nothing was inserted.
public struct ImportError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Index of the offending record.
    public var record: Int
    public var reason: String
    public init(record: Int, reason: String) { self.record = record; self.reason = reason }
    public var description: String { "record \(record): \(reason)" }
}

extension [ConnectionRecord] {
    /// Checks records before an import: each tuple id once (unless the
    /// table allows duplicates, as the 2020 design's missed lookups create),
    /// and a reply that the original could have (reversed, or NAT).
    public func validateForImport(allowDuplicateIDs: Bool) throws(ImportError) {
        var seen = Set<TupleID>()
        seen.reserveCapacity(2 * count)
        for (i, r) in enumerated() {
            if r.original.netProto != r.reply.netProto || r.original.transProto != r.reply.transProto {
                throw ImportError(record: i, reason: "original \(r.original) and reply \(r.reply) differ in protocol")
            }
            if !r.nat && r.reply != r.original.reversed {
                throw ImportError(record: i, reason: "reply \(r.reply) is not the reversed original \(r.original) and the record is not NAT")
            }
            if allowDuplicateIDs { continue }
            if !seen.insert(r.original).inserted { throw ImportError(record: i, reason: "duplicate tuple \(r.original)") }
            // A self-connection (LAND) has one tuple for both directions.
            if r.reply != r.original, !seen.insert(r.reply).inserted {
                throw ImportError(record: i, reason: "duplicate tuple \(r.reply)")
            }
        }
    }
}
