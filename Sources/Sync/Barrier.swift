#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import struct Synchronization.Atomic

/// A reusable barrier: arrivals count on an atomic, and the last party
/// runs the action and publishes the next generation, which waiters spin
/// on for up to `spinNanos` before they sleep on a pthread condition
/// variable (visible to ThreadSanitizer). At thousands of lock-step
/// windows a second a crossing must cost little: an arrival is one atomic
/// add and a release one store, with no lock taken unless a party sleeps
/// (a wake-up from the condition variable costs tens of microseconds on a
/// VM). The add (acquire-release) orders what every party wrote before it
/// arrived before the action; the store (release) and the waiters' loads
/// (acquire) order the action before what they do next.
public final class Barrier: @unchecked Sendable {
    /// How long a waiter spins before it sleeps, when every party can have
    /// a CPU of its own.
    public static let spinNanos: Int64 = 50_000
    /// immutable: `spinNanos`, or 0 when there are more parties than online
    /// CPUs (a spinning waiter would take a CPU a running party needs).
    let spinFor: Int64
    /// Guards the sleepers' wait and the wake-up (with `cv`).
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let parties: Int
    /// Parties that arrived in the current generation (reset by the last).
    let arrived = Atomic<Int>(0)
    /// Arrivals write `arrived` while waiters spin reading `published`.
    private let arrivedLine = CacheLinePad()
    /// The generation: it moves on when the last party has run the action.
    let published = Atomic<Int>(0)
    /// Parties asleep (or about to be) on `cv`: the last party takes the
    /// lock to wake them only when there are some.
    let sleepers = Atomic<Int>(0)

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
        // Read before arriving: the generation cannot move on until this
        // party has arrived.
        let gen = published.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue < parties {
            waitForNext(gen)
            return false
        }
        // Every other party waits on `published`, so none arrives again
        // before the store below: the count can be reset first.
        arrived.store(0, ordering: .relaxed)
        action()
        // Sequentially consistent, with the sleepers' count (a Dekker
        // pair): either this load sees a sleeper, which then waits on the
        // condition variable with the lock this side takes to wake it, or
        // the sleeper's load of `published` sees the new generation.
        published.store(gen &+ 1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            PThread.lock(m)
            let rc = pthread_cond_broadcast(cv)
            precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
            PThread.unlock(m)
        }
        return true
    }

    /// Spins, then sleeps, until the generation moves past `gen`.
    private func waitForNext(_ gen: Int) {
        if spin(gen) { return }
        PThread.lock(m)
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        while published.load(ordering: .sequentiallyConsistent) == gen {
            let rc = pthread_cond_wait(cv, m)
            precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
        }
        sleepers.wrappingSubtract(1, ordering: .relaxed)
        PThread.unlock(m)
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
