import ConnTrack

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
///   rejects a save or a soak without lock-step windows).
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

/// A point between packets at which a driver paused: no worker holds a
/// connection reference and the reaper is not running, so a hook may read
/// or export the whole table.
struct RunBoundary {
    /// Virtual time of what was processed last: the window's start
    /// (lock-step), or the last packet's timestamp (deterministic).
    var now: Int64
    /// Virtual time the run goes on from: the next window's start, or the
    /// next packet's timestamp. nil when the run pauses here to refill its
    /// buffers (the same window goes on after) or ends here.
    var next: Int64?
    /// The workers' merged counters so far.
    var workerStats: TableStats
    /// The most live connections so far: at window boundaries (lock-step),
    /// or exact (deterministic).
    var livePeak: Int64

    /// What a hook asks of the driver.
    enum Verdict {
        case proceed
        case stop
    }
}
