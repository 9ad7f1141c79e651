#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex in its own heap cell, for state outside the table (the
/// reaper's control block, per-worker publication, the sampler's log).
/// Locks that belong to the lock order go through `lock(_:rank:)` so the
/// rank checker sees them.
public final class HeapMutex: @unchecked Sendable {
    @usableFromInline let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        PThread.initMutex(m)
    }

    deinit {
        PThread.destroyMutex(m)
        m.deallocate()
    }

    @inlinable public func lock() { PThread.lock(m) }
    @inlinable public func unlock() { PThread.unlock(m) }

    /// Takes the mutex as a lock of the declared order with `rank`, through
    /// `RankedLock`; the call site is the caller's. Its acquisitions are in
    /// no report, so they are counted nowhere.
    @inlinable
    public func lock(_ locks: inout LockTracker, rank: LockRank, file: StaticString = #fileID, line: UInt = #line) {
        var uncounted = LockCounters()
        RankedLock(PThreadMutexRef(m), rank: rank).lock(&locks, counting: &uncounted, file: file, line: line)
    }

    @inlinable
    public func unlock(_ locks: inout LockTracker, rank: LockRank) {
        RankedLock(PThreadMutexRef(m), rank: rank).unlock(&locks)
    }

    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}
