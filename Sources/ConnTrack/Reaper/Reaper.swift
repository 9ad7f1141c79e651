import Sync
import struct Synchronization.Atomic

/// The adaptive reaper: runs `reapPass` on the table according to a
/// policy, either inline (`runDue`, for deterministic runs and tests) or on
/// its own thread (`start` / `stop`, the seed's `startReaper` goroutine).
public final class Reaper<Table: ConnTrackTable>: @unchecked Sendable {
    /// Exact sums over every pass, however long the run.
    public struct Totals: Sendable, Equatable {
        public var checked = 0
        public var expired = 0
        public var removed = 0
        public var deferred = 0
        /// Wall-clock nanoseconds spent in passes.
        public var busyNanos: Int64 = 0
        /// CPU time of the thread that ran the passes, during the passes.
        public var cpuNanos: Int64 = 0
        /// Passes that started more than one interval after they were due.
        public var late = 0
        /// The largest lag behind schedule (run's clock).
        public var maxLagNanos: Int64 = 0
        public init() {}
    }

    public struct PassRecord: Sendable, Equatable {
        /// When the pass ran (clock time; virtual in deterministic runs).
        public var at: Int64
        public var start: Int
        public var checked: Int
        public var expired: Int
        public var removed: Int
        public var deferred: Int
        /// Delay chosen for the next pass.
        public var interval: Int64
        /// Wall-clock duration of the pass.
        public var durationNanos: Int64
        /// How far behind its due time the pass started, on the run's clock
        /// (virtual time in virtual runs).
        public var lagNanos: Int64
    }

    public let table: Table
    /// The reaper control lock: first in the lock order.
    let control = HeapMutex()
    /// protected by control
    public private(set) var policy: ReaperPolicyChoice
    /// protected by control
    public private(set) var nextStart = 0
    /// protected by control
    public private(set) var interval: Int64
    /// protected by control
    public private(set) var nextDue: Int64
    /// protected by control: the first `historyLimit` passes (the totals
    /// below keep counting past it)
    public private(set) var history: [PassRecord] = []
    /// protected by control: passes run
    public private(set) var passes = 0
    /// protected by control: exact totals over every pass
    public private(set) var totals = Totals()
    /// protected by control: the reaper's own counters
    public private(set) var ctx: WorkerContext
    public let historyLimit: Int
    /// Set by `stop`, read by the reaper thread.
    let stopRequested = Atomic<Bool>(false)
    /// protected by control (start/stop are called from one controlling thread)
    var thread: OSThread?

    /// A reaper whose first pass is due at `startTime + startDelay`.
    public init(table: Table, policy: ReaperPolicyChoice, startDelay: Int64 = 5 * Duration_ns.second,
                startTime: Int64, checkLockOrder: Bool = LockTracker.enabledByDefault,
                lockAction: LockTracker.Action = .record, historyLimit: Int = 100_000, watch: WatchSlot? = nil) {
        self.table = table
        self.policy = policy
        self.interval = policy.initialPrevious(startDelay: startDelay)
        self.nextDue = startTime &+ startDelay
        self.historyLimit = historyLimit
        self.ctx = WorkerContext(name: "reaper", checkLockOrder: checkLockOrder, action: lockAction)
        self.ctx.watch = watch
    }

    /// Runs every pass due at or before `now`, each with its due time as
    /// its clock, scheduling the next at due time + returned interval.
    /// `observed` is the run's time at which the passes actually run (for
    /// their lag): `now` by default; a lock-step window passes the time its
    /// packets were processed at, since every pass due inside the window runs
    /// right after them and before the next window's. Returns the number of
    /// passes run.
    @discardableResult
    public func runDue(upTo now: Int64, observed: Int64? = nil) -> Int {
        control.lock()
        defer { control.unlock() }
        var n = 0
        while nextDue <= now {
            // A background reaper may be asked to stop mid-catch-up.
            if stopRequested.load(ordering: .relaxed) { break }
            onePass(at: nextDue, observed: observed ?? now)
            nextDue &+= interval
            n += 1
        }
        return n
    }

    /// Runs the pass due at `nextDue` with `now` as its clock; `observed`
    /// is the run's time when it actually started (for the lag).
    /// Preconditions: control is locked.
    private func onePass(at now: Int64, observed: Int64) {
        ctx.locks.willAcquire(.reaperControl, file: #fileID, line: #line)
        let size = table.sweepSlots
        let plan = policy.plan(tableSize: size)
        let lag = max(0, observed &- nextDue)
        if lag > interval { totals.late += 1 }
        totals.maxLagNanos = max(totals.maxLagNanos, lag)
        let c0 = threadCPUNanos()
        let t0 = MonotonicClock.read()
        let r = table.reapPass(start: nextStart, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions,
                               now: now, &ctx)
        let dt = MonotonicClock.read() - t0
        totals.cpuNanos += threadCPUNanos() - c0
        let next = policy.next(after: r, previous: interval, tableSize: size)
        if history.count < historyLimit {
            history.append(PassRecord(at: now, start: nextStart, checked: r.checked, expired: r.expired,
                                      removed: r.removed, deferred: r.deferred, interval: next, durationNanos: dt,
                                      lagNanos: lag))
        }
        passes += 1
        totals.checked += r.checked
        totals.expired += r.expired
        totals.removed += r.removed
        totals.deferred += r.deferred
        totals.busyNanos += dt
        ctx.watch?.progress.add(1, ordering: .relaxed)
        nextStart = r.nextStart
        interval = next
        ctx.locks.released(.reaperControl)
        // The reaper holds no connection pointer between passes.
        table.reclaim(&ctx)
    }

    /// Starts the reaper thread. `now` is read by the reaper thread only:
    /// real time, or the virtual time the workers have reached.
    /// With `realTime` the next pass is due `interval` after the previous
    /// one finished (the seed's `time.After`), else after it was due.
    public func start(realTime: Bool, now: @escaping @Sendable () -> Int64) {
        precondition(thread == nil, "reaper already running")
        stopRequested.store(false, ordering: .relaxed)
        thread = OSThread { [self] in
            while !stopRequested.load(ordering: .relaxed) {
                let t = now()
                control.lock()
                let due = nextDue
                control.unlock()
                if due <= t {
                    if realTime {
                        control.lock()
                        onePass(at: t, observed: t)
                        nextDue = now() &+ interval
                        control.unlock()
                    } else {
                        runDue(upTo: t)
                    }
                } else {
                    // Sleep in short slices so stop() is prompt.
                    OSThread.sleep(nanoseconds: realTime ? max(1, min(due - t, 1_000_000)) : 1_000_000)
                }
            }
        }
    }

    /// Stops the reaper thread and waits for it (the seed's `reaperDone`).
    /// A pass in progress completes first. `start` may be called again.
    public func stop() {
        guard let th = thread else { return }
        stopRequested.store(true, ordering: .relaxed)
        th.join()
        thread = nil
        stopRequested.store(false, ordering: .relaxed)
    }

    /// A consistent copy of the reaper's state and counters.
    public func snapshot() -> (passes: Int, interval: Int64, nextStart: Int, stats: TableStats, history: [PassRecord],
                               totals: Totals) {
        control.withLock { (passes, interval, nextStart, ctx.stats, history, totals) }
    }

    /// When the next pass is due.
    public var nextDueTime: Int64 { control.withLock { nextDue } }

    /// Passes that were due by `end` on the run's clock but did not run,
    /// counted at the current interval (the schedule would have adapted,
    /// so this is an estimate when it is not 0).
    public func passesOutstanding(at end: Int64) -> Int {
        control.withLock {
            guard nextDue <= end, interval > 0 else { return 0 }
            return Int(min(Int64(Int32.max), (end - nextDue) / interval + 1))
        }
    }

    /// Connections removed by the reaper so far.
    public var removedSoFar: UInt64 { control.withLock { ctx.stats.removedByReaper } }

    /// Lock-order violations recorded by the reaper's checker.
    public var violations: [LockOrderViolation] { control.withLock { ctx.locks.violations } }
}
