#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Thin helpers over pthread locks. Every lock lives in manually allocated
// memory (a bucket array, a connection block, a heap cell) so its address
// never moves: ThreadSanitizer and GCC's lock-order detector key on it.


enum PThread {
    static func initMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_init(m, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    static func destroyMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_destroy(m)
        assert(rc == 0, "pthread_mutex_destroy failed: \(rc)")
    }

    /// Blocks on a mutex whose trylock failed: counts the contention and the
    /// time waited, and tells the watchdog what this thread waits for. Kept
    /// out of line so the uncontended path stays a trylock and a branch.
    @inline(never)
    static func lockContended(_ m: UnsafeMutablePointer<pthread_mutex_t>, _ c: inout LockCounters,
                              watch: WatchSlot?, rank: LockRank) {
        c.contended &+= 1
        watch?.waitingFor.store(rank.value &+ 1, ordering: .relaxed)
        let t0 = MonotonicClock.read()
        let rc = pthread_mutex_lock(m)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
        c.waitNanos &+= UInt64(max(0, MonotonicClock.read() - t0))
        watch?.waitingFor.store(0, ordering: .relaxed)
    }

    @inline(__always)
    static func unlock(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_unlock(m)
        assert(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    @inline(never)
    static func rwLockContended(_ l: UnsafeMutablePointer<pthread_rwlock_t>, write: Bool,
                                _ c: inout LockCounters, watch: WatchSlot?) {
        c.contended &+= 1
        watch?.waitingFor.store(LockRank.table.value &+ 1, ordering: .relaxed)
        let t0 = MonotonicClock.read()
        let rc = write ? pthread_rwlock_wrlock(l) : pthread_rwlock_rdlock(l)
        precondition(rc == 0, "pthread_rwlock lock failed: \(rc)")
        c.waitNanos &+= UInt64(max(0, MonotonicClock.read() - t0))
        watch?.waitingFor.store(0, ordering: .relaxed)
    }

    @inline(__always)
    static func unlockRW(_ l: UnsafeMutablePointer<pthread_rwlock_t>) {
        let rc = pthread_rwlock_unlock(l)
        assert(rc == 0, "pthread_rwlock_unlock failed: \(rc)")
    }
}

/// A pthread mutex in its own heap cell, for state outside the table
/// (the reaper's control block).
public final class HeapMutex: @unchecked Sendable {
    let m: UnsafeMutablePointer<pthread_mutex_t>
    public init() {
        m = .allocate(capacity: 1)
        PThread.initMutex(m)
    }
    deinit {
        PThread.destroyMutex(m)
        m.deallocate()
    }
    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}
