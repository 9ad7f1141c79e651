import Sync

/// Everything a thread carries into the table: its counters and its lock
/// tracker. Passed `inout`, so the packet path touches no shared counters
/// and needs no thread-local storage.
public struct WorkerContext {
    public var stats = TableStats()
    public var locks: LockTracker

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

