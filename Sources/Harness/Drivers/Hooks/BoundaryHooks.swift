/// The hooks a driver calls at its boundaries, in the order the runner
/// registered them. Called only from one thread at a time (the leader
/// inside a barrier action, or the single deterministic worker), never per
/// packet.
struct BoundaryHooks: Sendable {
    private let hooks: [any RunBoundaryHook]

    init(_ hooks: [any RunBoundaryHook] = []) { self.hooks = hooks }

    var isEmpty: Bool { hooks.isEmpty }

    /// The earliest virtual time a hook wants a boundary before; nil: none
    /// asks for one.
    var dueTime: Int64? {
        var due: Int64? = nil
        for h in hooks { if let t = h.dueTime { due = min(due ?? t, t) } }
        return due
    }

    /// Calls every hook; `.stop` if any asked to stop (each is called even
    /// so: they all see every boundary).
    /// Preconditions: every worker is paused at the boundary and the
    /// reaper is not running.
    func atBoundary(_ boundary: RunBoundary) -> RunBoundary.Verdict {
        var verdict = RunBoundary.Verdict.proceed
        for h in hooks where h.atBoundary(boundary) == .stop { verdict = .stop }
        return verdict
    }
}
