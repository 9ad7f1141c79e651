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

    /// Takes the mutex through the rank checker, as a lock of the declared
    /// order with `rank`; the call site is the caller's.
    @inlinable
    public func lock(_ locks: inout LockTracker, rank: LockRank, file: StaticString = #fileID, line: UInt = #line) {
        locks.willAcquire(rank, file: file, line: line)
        PThread.lock(m)
    }

    @inlinable
    public func unlock(_ locks: inout LockTracker, rank: LockRank) {
        PThread.unlock(m)
        locks.released(rank)
    }

    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}
