import ConnTrack

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
