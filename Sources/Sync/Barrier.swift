#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import struct Synchronization.Atomic

/// A reusable barrier: arrivals count on an atomic, and the last party
/// runs the action and publishes the next generation, which the others
/// wait for through a `WaitPoint` (spin briefly, then park). At thousands
/// of lock-step windows a second a crossing must cost little: an arrival
/// is one atomic add and a release one store and a fence, with no lock
/// taken unless a party parked. The add (acquire-release) orders what
/// every party wrote before it arrived before the action; the store
/// (release) and the waiters' loads (acquire) order the action before what
/// they do next.
public final class Barrier: @unchecked Sendable {
    public let parties: Int
    /// Parties that arrived in the current generation (reset by the last).
    let arrived = Atomic<Int>(0)
    /// Arrivals write `arrived` while waiters spin reading `published`.
    private let arrivedLine = CacheLinePad()
    /// The generation: it moves on when the last party has run the action.
    let published = Atomic<Int>(0)
    private let publishedLine = CacheLinePad()
    let point: WaitPoint

    /// `spinNanos`: how long a waiter spins before it parks; none when
    /// there are more parties than online CPUs (a spinning waiter would
    /// take a CPU a running party needs).
    public init(parties: Int, spinNanos: Int64 = WaitPoint.defaultSpinNanos) {
        precondition(parties >= 1, "a barrier needs at least one party")
        precondition(spinNanos >= 0, "a spin of \(spinNanos) ns")
        self.parties = parties
        point = WaitPoint(spinNanos: parties <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) ? spinNanos : 0)
    }

    /// Blocks until `parties` threads have called it; the last one runs
    /// `action` alone (the others still wait) before all are released, so
    /// what it writes is visible to every party afterwards. Returns true
    /// for the last. `waiter` is the calling thread's (`WaitPoint`).
    @discardableResult
    public func wait(_ waiter: inout Waiter, _ action: () -> Void = {}) -> Bool {
        // Read before arriving: the generation cannot move on until this
        // party has arrived.
        let gen = published.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue < parties {
            point.wait(&waiter) { published.load(ordering: .acquiring) != gen }
            return false
        }
        // Every other party waits on `published`, so none arrives again
        // before the store below: the count can be reset first.
        arrived.store(0, ordering: .relaxed)
        action()
        published.store(gen &+ 1, ordering: .releasing)
        point.wake()
        return true
    }

    /// `wait(_:_:)` for a party whose waits are counted nowhere.
    @discardableResult
    public func wait(_ action: () -> Void = {}) -> Bool {
        var uncounted = Waiter()
        return wait(&uncounted, action)
    }
}
