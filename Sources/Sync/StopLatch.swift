#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import struct Synchronization.Atomic

/// A one-way stop flag a background thread sleeps on: `sleep` returns when
/// its time is up or at once when `stop()` is called.
///
/// The sampler and the watchdog sleep on one instead of polling in short
/// slices: each wake-up of a thread beside workers that fill every CPU
/// preempts one of them, and a worker counts its preemptions to tell a busy
/// machine from a quiet one (`Waiter`). 150 wake-ups a second (10 ms and
/// 20 ms slices) read as a busy machine on a quiet one.
public final class StopLatch: @unchecked Sendable {
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Written under `m`; read without it by `isStopped`.
    private let stopped = Atomic<Bool>(false)

    public init() {
        m.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        PThread.initMutex(m)
        var attr = pthread_condattr_t()
        var rc = pthread_condattr_init(&attr)
        precondition(rc == 0, "pthread_condattr_init failed: \(rc)")
        // Deadlines on the monotonic clock, which no clock change moves.
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        precondition(rc == 0, "pthread_condattr_setclock failed: \(rc)")
        rc = pthread_cond_init(cv, &attr)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
        rc = pthread_condattr_destroy(&attr)
        precondition(rc == 0, "pthread_condattr_destroy failed: \(rc)")
    }

    deinit {
        let rc = pthread_cond_destroy(cv)
        precondition(rc == 0, "pthread_cond_destroy failed: \(rc)")
        PThread.destroyMutex(m)
        cv.deallocate(); m.deallocate()
    }

    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Sets the flag and wakes every sleeper.
    public func stop() {
        PThread.lock(m)
        stopped.store(true, ordering: .releasing)
        let rc = pthread_cond_broadcast(cv)
        precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
        PThread.unlock(m)
    }

    /// Sleeps until `monotonicNanos()` reaches `deadline` or the latch is
    /// stopped; returns whether it is stopped.
    @discardableResult
    public func sleep(until deadline: Int64) -> Bool {
        PThread.lock(m)
        defer { PThread.unlock(m) }
        while !stopped.load(ordering: .relaxed) && monotonicNanos() < deadline {
            var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            let rc = pthread_cond_timedwait(cv, m, &ts)
            precondition(rc == 0 || rc == ETIMEDOUT, "pthread_cond_timedwait failed: \(rc)")
        }
        return stopped.load(ordering: .relaxed)
    }

    /// Sleeps for `ns` nanoseconds unless stopped first; returns whether it
    /// is stopped.
    @discardableResult
    public func sleep(nanoseconds ns: Int64) -> Bool {
        sleep(until: monotonicNanos() &+ max(0, ns))
    }
}
