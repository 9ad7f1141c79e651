import Sync

/// Everything a thread carries into the table: its counters and its lock
/// tracker. Passed `inout`, so the packet path touches no shared counters
/// and needs no thread-local storage.
public struct WorkerContext {
    public var stats = TableStats()
    public var locks: LockTracker
    /// The most connections this thread's own creations and removals had
    /// added at any moment since `resetNetPeak` (a live peak that misses no
    /// moment, where one thread and its inline reaper change the table).
    public var netPeak: Int64 = 0
    /// Free pool entries this thread took in one go (the `fast` design), so
    /// a new connection costs no lock and no allocation.
    var entryCache = EntryCache()
    /// This thread's recorder of verdicts and events (`--verdicts`,
    /// `--events`); nil when both are off. Designs report through
    /// `WorkerContext+Trace.swift`.
    public var trace: UnsafeMutablePointer<TraceLane>? = nil
    /// Which of a table's retire lists this thread's removals go to
    /// (`fast`): threads that remove at once should differ (the worker's
    /// index; a reaper part's).
    public var retireShard: UInt8 = 0

    /// Connections this thread created less those it removed.
    @inlinable public var net: Int64 {
        Int64(bitPattern: stats.created &- stats.removedInline &- stats.removedOther)
    }

    /// Counts a connection created (the one place `created` is counted).
    @inlinable
    public mutating func noteCreated() {
        stats.created &+= 1
        let n = net
        if n > netPeak { netPeak = n }
    }

    public mutating func resetNetPeak() { netPeak = net }

    public init(name: String, checkLockOrder: Bool = LockTracker.enabledByDefault,
                action: LockTracker.Action = .record) {
        locks = LockTracker(enabled: checkLockOrder, action: action, threadName: name)
    }

    /// Publishes progress and lock waits for the deadlock watchdog.
    public var watch: WatchSlot? {
        get { locks.watch }
        set { locks.watch = newValue }
    }
}

