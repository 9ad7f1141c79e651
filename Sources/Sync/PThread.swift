#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Thin helpers over pthread locks. Every lock lives in manually allocated
// memory (a bucket array, a connection block, a heap cell) so its address
// never moves: ThreadSanitizer and GCC's lock-order detector key on it.
// Every return code is checked with `precondition`, as swift-nio's NIOLock
// does: a failing lock call means corrupted memory, and carrying on would
// turn it into a silent race.
public enum PThread {
    /// Debug builds make every mutex error-checking, so a thread that
    /// unlocks a mutex it does not hold, or takes one it holds again, stops
    /// at the call instead of corrupting the lock; release builds keep the
    /// default (fast) type.
    ///
    /// `adaptive`: in release builds on glibc, a mutex that spins a while
    /// before it sleeps (`PTHREAD_MUTEX_ADAPTIVE_NP`), as Open vSwitch's
    /// `ovs_mutex_init_adaptive` makes its conntrack locks; debug builds
    /// keep the error-checking type.
    public static func initMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>, adaptive: Bool = false) {
        #if !DEBUG && canImport(Glibc)
        if adaptive {
            let rc = pthread_mutex_init(m, adaptiveAttributes)
            precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
            return
        }
        #endif
        #if DEBUG
        var attr = pthread_mutexattr_t()
        var rc = pthread_mutexattr_init(&attr)
        precondition(rc == 0, "pthread_mutexattr_init failed: \(rc)")
        rc = pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_ERRORCHECK))
        precondition(rc == 0, "pthread_mutexattr_settype failed: \(rc)")
        rc = pthread_mutex_init(m, &attr)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        rc = pthread_mutexattr_destroy(&attr)
        precondition(rc == 0, "pthread_mutexattr_destroy failed: \(rc)")
        #else
        let rc = pthread_mutex_init(m, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        #endif
    }

    #if !DEBUG && canImport(Glibc)
    /// The attributes of an adaptive mutex, made once and never changed.
    nonisolated(unsafe) static let adaptiveAttributes: UnsafeMutablePointer<pthread_mutexattr_t> = {
        let a = UnsafeMutablePointer<pthread_mutexattr_t>.allocate(capacity: 1)
        a.initialize(to: pthread_mutexattr_t())
        var rc = pthread_mutexattr_init(a)
        precondition(rc == 0, "pthread_mutexattr_init failed: \(rc)")
        rc = pthread_mutexattr_settype(a, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        precondition(rc == 0, "pthread_mutexattr_settype failed: \(rc)")
        return a
    }()
    #endif

    public static func destroyMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_destroy(m)
        precondition(rc == 0, "pthread_mutex_destroy failed: \(rc)")
    }

    public static func initRWLock(_ l: UnsafeMutablePointer<pthread_rwlock_t>) {
        let rc = pthread_rwlock_init(l, nil)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    public static func destroyRWLock(_ l: UnsafeMutablePointer<pthread_rwlock_t>) {
        let rc = pthread_rwlock_destroy(l)
        precondition(rc == 0, "pthread_rwlock_destroy failed: \(rc)")
    }

    /// Takes a mutex without counting (control locks outside the table).
    @inlinable @inline(__always)
    public static func lock(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_lock(m)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    /// Tries a mutex: true when taken, false when it is held elsewhere.
    ///
    /// Every caller may wait: the GCC ThreadSanitizer lock-order binary
    /// (`scripts/tsan-lockorder`) makes every try-lock block, because the
    /// deadlock detector ignores try-locks (scripts/tsan-shim.c).
    @inlinable @inline(__always)
    public static func tryLock(_ m: UnsafeMutablePointer<pthread_mutex_t>) -> Bool {
        let rc = pthread_mutex_trylock(m)
        precondition(rc == 0 || rc == EBUSY, "pthread_mutex_trylock failed: \(rc)")
        return rc == 0
    }

    @inlinable @inline(__always)
    public static func unlock(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        let rc = pthread_mutex_unlock(m)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    /// Tries a reader/writer lock: true when taken.
    @inlinable @inline(__always)
    public static func tryLockRW(_ l: UnsafeMutablePointer<pthread_rwlock_t>, write: Bool) -> Bool {
        let rc = write ? pthread_rwlock_trywrlock(l) : pthread_rwlock_tryrdlock(l)
        precondition(rc == 0 || rc == EBUSY, "pthread_rwlock_try\(write ? "wr" : "rd")lock failed: \(rc)")
        return rc == 0
    }

    /// Takes a reader/writer lock, blocking.
    @inlinable @inline(__always)
    public static func lockRW(_ l: UnsafeMutablePointer<pthread_rwlock_t>, write: Bool) {
        let rc = write ? pthread_rwlock_wrlock(l) : pthread_rwlock_rdlock(l)
        precondition(rc == 0, "pthread_rwlock_\(write ? "wr" : "rd")lock failed: \(rc)")
    }

    @inlinable @inline(__always)
    public static func unlockRW(_ l: UnsafeMutablePointer<pthread_rwlock_t>) {
        let rc = pthread_rwlock_unlock(l)
        precondition(rc == 0, "pthread_rwlock_unlock failed: \(rc)")
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inlinable
public func monotonicNanos() -> Int64 {
    var ts = timespec()
    let rc = clock_gettime(CLOCK_MONOTONIC, &ts)
    precondition(rc == 0, "clock_gettime failed")
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// CPU time consumed by the calling thread, in nanoseconds.
public func threadCPUNanos() -> Int64 {
    var ts = timespec()
    let rc = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    precondition(rc == 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed")
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// Writes a line to standard error without Foundation or the shared FILE*.
public func writeStderr(_ s: String) {
    var s = s
    s.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
}
