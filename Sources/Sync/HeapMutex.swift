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

    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}
