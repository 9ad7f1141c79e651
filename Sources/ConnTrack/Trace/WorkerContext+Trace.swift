/// The design-facing side of `--verdicts` and `--events`: what a design
/// calls on its packet path and in its removals. `ctx.trace` is nil when
/// both are off, so each call site is one predictable branch,
/// `if ctx.tracing { ... }`, and computes its inputs only inside it.
/// The rules (docs/adding-a-design.md#verdicts-and-events):
/// - `handlePacket` calls `traceVerdict` exactly once per packet, after any
///   event of that packet (the lane's packet position moves on there);
/// - `traceEvent(.new, ...)` once a connection is in the table, with its
///   state after the creating packet;
/// - `traceEvent(.update, ...)` when `ConnTraceState` differs before and
///   after a packet (read both under the connection's lock);
/// - `traceEvent(.destroy, ..., reason:)` for every removal (inline,
///   reaper, early drop), with the connection as it was removed.
extension WorkerContext {
    /// Verdicts or events are being recorded by this thread.
    @inlinable public var tracing: Bool { trace != nil }

    /// Events are being recorded by this thread.
    @inlinable public var tracingEvents: Bool { trace?.pointee.recordsEvents ?? false }

    /// Records the verdict of `p`, the packet in progress.
    /// Preconditions: `tracing`.
    @inline(__always)
    public func traceVerdict(_ v: Verdict, _ p: Packet) {
        trace!.pointee.verdict(v, timestamp: p.timestamp)
    }

    /// Records an event of the connection `r` at `now` (the design's
    /// clock reading for the packet or pass). Preconditions: `tracing`.
    @inline(__always)
    public func traceEvent(_ kind: ConnEventKind, _ r: ConnectionRecord, now: Int64, reason: RemovalReason = .none) {
        trace!.pointee.event(kind, r, time: now, reason: reason)
    }
}
