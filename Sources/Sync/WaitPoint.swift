#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import struct Synchronization.Atomic
import func Synchronization.atomicMemoryFence

/// The one way a thread of the harness waits for another: it spins for a
/// short while, then parks on a pthread condition variable (visible to
/// ThreadSanitizer) until the thread that makes its condition true calls
/// `wake()`. Every barrier, the reaper team's turns and its job hand-over
/// wait through it.
///
/// Why both: a wake-up from a condition variable costs tens of µs on a VM,
/// so a wait that ends within that is cheaper spun; but a waiter that spins
/// while the party it waits for is queued for a CPU (another process took
/// the core) burns CPU that party, or the process's share of the machine,
/// needs. So a waiter spins for up to `spinNanos` only while its thread is
/// not being preempted, and for `contendedSpinNanos` once it was
/// (`Waiter`): beside one CPU-bound process a 50 µs spin halved the
/// throughput of a two-worker lock-step run that a 2 µs spin kept
/// (results/busy-machine.md).
///
/// The condition is the caller's (`ready`): it must read what the waker
/// writes with at least acquiring loads, and the waker must write it (with
/// a releasing store or stronger) before calling `wake()`. The sleepers'
/// count and the condition form a Dekker pair across two sequentially
/// consistent fences: either the waiter's check after it counted itself
/// sees the condition, or the waker's load sees the sleeper and takes the
/// lock to wake it (which it can only get once the sleeper waits on the
/// condition variable).
public final class WaitPoint: @unchecked Sendable {
    /// How long a waiter spins before it parks while its thread is not
    /// being preempted. Measured on this machine kind (results/busy-machine.md):
    /// a lock-step crossing with every party on a CPU mostly ends within
    /// 10 µs, and 20-200 µs gave the same throughput, 0-5 µs up to 20 %
    /// less (every longer wait pays a wake-up).
    public static let defaultSpinNanos: Int64 = 50_000
    /// How long a waiter spins while its thread is being preempted (another
    /// thread wants its CPU): 0-5 µs gave the same throughput beside a
    /// CPU-bound process, 10 µs 15 % less, 50 µs half.
    public static let contendedSpinNanos: Int64 = 2_000

    /// immutable
    public let spinNanos: Int64
    /// Guards the sleepers' wait and the wake-up (with `cv`).
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Waiters parked (or about to park) on `cv`: `wake` takes the lock
    /// only when there are some.
    private let sleepers = Atomic<Int>(0)

    public init(spinNanos: Int64 = WaitPoint.defaultSpinNanos) {
        precondition(spinNanos >= 0, "a spin of \(spinNanos) ns")
        self.spinNanos = spinNanos
        m.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        PThread.initMutex(m)
        let rc = pthread_cond_init(cv, nil)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
    }

    deinit {
        precondition(sleepers.load(ordering: .relaxed) == 0, "a wait point freed with a thread parked on it")
        let rc = pthread_cond_destroy(cv)
        precondition(rc == 0, "pthread_cond_destroy failed: \(rc)")
        PThread.destroyMutex(m)
        cv.deallocate(); m.deallocate()
    }

    /// Returns once `ready()` is true: at once if it already is, else after
    /// spinning (`waiter.spinLimit`) and then parking. What the wait cost
    /// is added to `waiter.stats`.
    @inlinable
    public func wait(_ waiter: inout Waiter, until ready: () -> Bool) {
        if ready() { return }
        let t0 = monotonicNanos()
        let limit = waiter.spinLimit(spinNanos, now: t0)
        if limit > 0 {
            let deadline = t0 &+ limit
            while true {
                // The clock is read once per 64 checks (about 1 µs).
                for _ in 0..<64 where ready() {
                    let t1 = monotonicNanos()
                    waiter.stats.addSpun(t1 &- t0)
                    if t1 &- t0 >= Waiter.checkAfterNanos { waiter.notePreemptions(now: t1) }
                    return
                }
                if monotonicNanos() > deadline { break }
            }
        }
        let t1 = monotonicNanos()
        park(until: ready)
        let t2 = monotonicNanos()
        waiter.stats.addParked(spun: t1 &- t0, parked: t2 &- t1)
        waiter.notePreemptions(now: t2)
    }

    /// Parks until `ready()` (checked under the lock after counting this
    /// thread as a sleeper).
    @usableFromInline
    func park(until ready: () -> Bool) {
        PThread.lock(m)
        sleepers.wrappingAdd(1, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        while !ready() {
            let rc = pthread_cond_wait(cv, m)
            precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
        }
        sleepers.wrappingSubtract(1, ordering: .relaxed)
        PThread.unlock(m)
    }

    /// Wakes every parked waiter so it checks its condition again. Call it
    /// after making a condition true; it costs a fence and a load when no
    /// one is parked.
    @inlinable
    public func wake() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if hasSleepers { wakeParked() }
    }

    @usableFromInline
    var hasSleepers: Bool { sleepers.load(ordering: .relaxed) > 0 }

    @usableFromInline
    func wakeParked() {
        PThread.lock(m)
        let rc = pthread_cond_broadcast(cv)
        precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
        PThread.unlock(m)
    }
}

/// One waiting thread's side of its waits: what they cost, and whether its
/// thread is being preempted, which sets how long it spins. Owned by that
/// thread (passed `inout` to every wait), like its table counters.
///
/// After each wait that parked or spun for `checkAfterNanos` or more (a
/// system call of a quarter of a µs is lost in either), the thread's count
/// of involuntary context switches is read. `preemptionsToContend` of them
/// within `calmNanos` mean other threads keep wanting this CPU, so
/// spinning would take CPU someone needs: the waiter spins briefly until
/// `calmNanos` pass without that many. (A few now and then are no sign: a
/// quiet machine's own threads preempt a worker tens of times a second,
/// and on an AMD EPYC host up to 5 within 100 ms happened often enough to
/// make quiet runs spin 2 µs and park (results/wakeups-counts.txt); a
/// CPU-bound process beside it preempts each worker about 3,000 times a
/// second, 300 in 100 ms.)
public struct Waiter: Sendable {
    public var stats = WaitStats()
    /// The thread's involuntary context switches at the last read (-1:
    /// not read yet).
    @usableFromInline var involuntary = -1
    /// Preemptions counted since `windowStart` (monotonic ns).
    @usableFromInline var recentPreemptions = 0
    @usableFromInline var windowStart: Int64 = .min
    /// Spins are short until then (monotonic ns).
    @usableFromInline var contendedUntil: Int64 = .min

    /// The window preemptions are counted over, and how long spins stay
    /// short after a window with enough of them.
    public static let calmNanos: Int64 = 100_000_000
    public static let preemptionsToContend = 20
    /// A spin this long is followed by a read of the preemption count.
    public static let checkAfterNanos: Int64 = 20_000

    public init() {}

    @inlinable
    mutating func spinLimit(_ spinNanos: Int64, now: Int64) -> Int64 {
        guard now < contendedUntil else { return spinNanos }
        stats.contendedWaits &+= 1
        return min(spinNanos, WaitPoint.contendedSpinNanos)
    }

    @usableFromInline
    mutating func notePreemptions(now: Int64) {
        let n = threadInvoluntarySwitches()
        defer { involuntary = n }
        guard involuntary >= 0, n > involuntary else { return }
        if now &- windowStart > Self.calmNanos {
            windowStart = now
            recentPreemptions = 0
        }
        recentPreemptions += n - involuntary
        if recentPreemptions >= Self.preemptionsToContend {
            contendedUntil = now &+ Self.calmNanos
            stats.contendedSpells &+= 1
        }
    }
}

/// The calling thread's involuntary context switches so far (0 where the
/// system cannot say).
@usableFromInline
func threadInvoluntarySwitches() -> Int {
    #if os(Linux)
    var ru = rusage()
    // RUSAGE_THREAD (Linux; Glibc hides its name behind _GNU_SOURCE).
    let rc = getrusage(1, &ru)
    precondition(rc == 0, "getrusage(RUSAGE_THREAD) failed: \(rc)")
    return ru.ru_nivcsw
    #else
    return 0
    #endif
}

/// What one thread's waits cost: how many it made, how many of them had to
/// park, and the time spent spinning and parked. Owned by the waiting
/// thread and merged after it joined, like the table counters.
public struct WaitStats: Sendable, Equatable, Codable {
    /// Waits whose condition was not already true.
    public var waits = 0
    /// Of those, the ones that spun out their budget and parked.
    public var parks = 0
    /// CPU burnt spinning (a spinning thread is on a CPU, unless the
    /// machine took it away: then it is still time not spent working).
    public var spinNanos: Int64 = 0
    /// Time parked: off CPU, waiting to be woken.
    public var parkedNanos: Int64 = 0
    /// Waits that spun only briefly because the thread was being
    /// preempted (`Waiter`), and the times a waiter found it was.
    public var contendedWaits = 0
    public var contendedSpells = 0

    public init() {}

    public var totalNanos: Int64 { spinNanos &+ parkedNanos }

    /// A wait that ended while it spun.
    @inlinable
    public mutating func addSpun(_ spun: Int64) {
        waits &+= 1
        spinNanos &+= spun
    }

    /// A wait that spun out its budget and parked.
    @inlinable
    public mutating func addParked(spun: Int64, parked: Int64) {
        waits &+= 1
        parks &+= 1
        spinNanos &+= spun
        parkedNanos &+= parked
    }

    public mutating func merge(_ o: WaitStats) {
        waits &+= o.waits
        parks &+= o.parks
        spinNanos &+= o.spinNanos
        parkedNanos &+= o.parkedNanos
        contendedWaits &+= o.contendedWaits
        contendedSpells &+= o.contendedSpells
    }
}
