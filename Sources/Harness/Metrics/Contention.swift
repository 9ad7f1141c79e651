import ConnTrack
import Sync

/// The one definition of lock contention: the share of lock acquisitions
/// (bucket or stripe locks, connection locks and the table lock together)
/// that found the lock held and had to wait. The report, `compare`,
/// `sweep` and the sampled time series all use it.
public enum Contention {
    /// Contended acquisitions over all acquisitions, in percent (0 when
    /// nothing was acquired).
    public static func percent(_ locks: [LockCounters]) -> Double {
        var total = LockCounters()
        for l in locks { total.merge(l) }
        return total.acquisitions > 0 ? Double(total.contended) * 100 / Double(total.acquisitions) : 0
    }

    /// Every lock kind a table's counters record.
    public static func percent(_ s: TableStats) -> Double { percent([s.bucketLock, s.connLock, s.tableLock]) }

    /// Every lock kind a report records.
    public static func percent(_ r: RunReport) -> Double {
        percent([r.bucketLocks, r.connectionLocks, r.tableLock].map(\.counters))
    }
}

extension LockReport {
    /// The counts as `LockCounters` (wait time rounded to whole ns).
    var counters: LockCounters {
        var c = LockCounters()
        c.acquisitions = acquisitions; c.contended = contended; c.waitNanos = UInt64(max(0, waitMillis * 1e6))
        return c
    }
}
