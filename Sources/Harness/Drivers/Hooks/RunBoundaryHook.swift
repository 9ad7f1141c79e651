/// Work a driver runs where it pauses with the table quiescent: the soak's
/// checks and the mid-run save, registered by the runner.
///
/// Where a driver calls the hooks:
/// - the lock-step windowed driver, at every window boundary, from the
///   leader while every worker waits at the barrier: before the reaper's
///   passes due by the next window's start;
/// - the deterministic driver, only before the first packet at or after a
///   hook's `dueTime` (it has no regular boundaries);
/// - the free-running driver never: its reaper runs on its own thread, so
///   it has no point at which the table is quiescent (the configuration
///   rejects a save or a soak there).
protocol RunBoundaryHook: AnyObject, Sendable {
    /// The virtual time before which this hook wants a boundary: a driver
    /// without regular boundaries pauses before the first packet at or
    /// after it. nil: regular boundaries are enough.
    /// After a call at a boundary whose `next` is at or after it, it must
    /// be nil or later than that `next`, so the run moves on.
    var dueTime: Int64? { get }

    /// Runs at a boundary; `.stop` ends the run there.
    /// Preconditions: every worker is paused at the boundary and the reaper
    /// is not running; hooks are called on one thread at a time.
    func atBoundary(_ boundary: RunBoundary) -> RunBoundary.Verdict
}
