import ConnTrack

/// The `saveAt` save as a boundary hook: the table is saved once, at the
/// first boundary the run crosses the save time at (the deterministic
/// driver pauses before the first packet at or after it; the windowed
/// driver saves before the first window that starts at or after it, so
/// every packet of the window that reaches the save time is in the table).
final class MidRunSave<T: ConnTrackTable>: RunBoundaryHook, @unchecked Sendable {
    let env: RunEnvironment<T>
    /// Virtual time the save is due at.
    let at: Int64
    /// Written only in `atBoundary` (one thread at a time).
    private(set) var saved = false

    init(_ env: RunEnvironment<T>, at: Int64) {
        self.env = env
        self.at = at
    }

    var dueTime: Int64? { saved ? nil : at }

    func atBoundary(_ b: RunBoundary) -> RunBoundary.Verdict {
        guard !saved, let next = b.next, next >= at else { return .proceed }
        saved = true
        env.save(at: b.now, workerStats: b.workerStats, livePeak: b.livePeak)
        return .proceed
    }
}
