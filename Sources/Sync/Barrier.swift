#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import struct Synchronization.Atomic

/// A reusable barrier on a pthread mutex and condition variable (visible
/// to ThreadSanitizer), with a short spin first: a waiter polls an atomic
/// copy of the generation for up to `spinNanos` before it sleeps, because a
/// wake-up from the condition variable costs tens of microseconds on a VM,
/// which at thousands of lock-step windows a second was most of a fast
/// table's window. The release store / acquire load of that copy orders
/// what the last party wrote, as the mutex does.
public final class Barrier: @unchecked Sendable {
    /// How long a waiter spins before it sleeps, when every party can have
    /// a CPU of its own.
    public static let spinNanos: Int64 = 50_000
    /// immutable: `spinNanos`, or 0 when there are more parties than online
    /// CPUs (a spinning waiter would take a CPU a running party needs).
    let spinFor: Int64
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let parties: Int
    /// protected by m
    var waiting = 0
    /// protected by m
    var generation = 0
    /// `generation`, stored (release) after each change, for the spin.
    let published = Atomic<Int>(0)

    /// `spinNanos`: how long a waiter spins before it sleeps (when every
    /// party can have a CPU of its own).
    public init(parties: Int, spinNanos: Int64 = Barrier.spinNanos) {
        precondition(parties >= 1, "a barrier needs at least one party")
        precondition(spinNanos >= 0, "a spin of \(spinNanos) ns")
        self.parties = parties
        spinFor = parties <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) ? spinNanos : 0
        m.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        PThread.initMutex(m)
        let rc = pthread_cond_init(cv, nil)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
    }

    deinit {
        let rc = pthread_cond_destroy(cv)
        precondition(rc == 0, "pthread_cond_destroy failed: \(rc)")
        PThread.destroyMutex(m)
        cv.deallocate(); m.deallocate()
    }

    /// Blocks until `parties` threads have called it; the last one runs
    /// `action` alone (the others still wait) before all are released, so
    /// what it writes is visible to every party afterwards. Returns true
    /// for the last.
    @discardableResult
    public func wait(_ action: () -> Void) -> Bool {
        PThread.lock(m)
        let gen = generation
        waiting += 1
        if waiting == parties {
            PThread.unlock(m)
            action()
            PThread.lock(m)
            waiting = 0
            generation += 1
            published.store(generation, ordering: .releasing)
            let rc = pthread_cond_broadcast(cv)
            precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
            PThread.unlock(m)
            return true
        }
        PThread.unlock(m)
        return waitForNext(gen)
    }

    /// Spins, then sleeps, until the generation moves past `gen`.
    /// Preconditions: m is not held.
    private func waitForNext(_ gen: Int) -> Bool {
        if spin(gen) { return false }
        PThread.lock(m)
        while gen == generation {
            let rc = pthread_cond_wait(cv, m)
            precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
        }
        PThread.unlock(m)
        return false
    }

    /// True once the generation moved past `gen` within `spinFor`.
    private func spin(_ gen: Int) -> Bool {
        guard spinFor > 0 else { return false }
        let deadline = monotonicNanos() + spinFor
        while true {
            for _ in 0..<64 where published.load(ordering: .acquiring) != gen { return true }
            if monotonicNanos() > deadline { return false }
        }
    }

    /// Blocks until `parties` threads have called it; returns true for the last.
    @discardableResult
    public func wait() -> Bool { wait {} }
}
