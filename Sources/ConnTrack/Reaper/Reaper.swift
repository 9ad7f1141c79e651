import Sync
import struct Synchronization.Atomic

/// Exact sums over every pass, however long the run.
public struct ReaperTotals: Sendable, Equatable, Codable {
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
    /// Passes computed from a sweep summary instead of walked (their
    /// counters are the same; see `runDue`).
    public var fastForwarded = 0
    /// Sweep summaries built for them.
    public var summariesBuilt = 0
    public init() {}
}

public struct ReaperPassRecord: Sendable, Equatable, Codable {
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
    /// Computed from a sweep summary (it found nothing expired).
    public var fastForwarded: Bool
}

/// Everything a reaper carries from one pass to the next and has counted:
/// what a saved table keeps so that a restored run goes on where it was.
public struct ReaperState: Sendable, Equatable, Codable {
    public var policy: ReaperPolicyChoice
    public var passes: Int
    public var nextStart: Int
    public var interval: Int64
    public var nextDue: Int64
    public var history: [ReaperPassRecord]
    public var totals: ReaperTotals
    /// The reaper's own table counters (removals, lock acquisitions).
    public var stats: TableStats
}

/// The adaptive reaper: runs `reapPass` on the table according to a
/// policy, either inline (`runDue`, for deterministic runs and tests) or on
/// its own thread (`start` / `stop`, the seed's `startReaper` goroutine).
public final class Reaper<Table: ConnTrackTable>: @unchecked Sendable {
    public typealias Totals = ReaperTotals
    public typealias PassRecord = ReaperPassRecord

    public let table: Table
    /// The reaper control lock: first in the lock order.
    let control = HeapMutex()
    // Every field below is protected by the control lock, which already
    // excludes overlapping accesses: the dynamic exclusivity checks (a
    // third of a computed pass) are left out.
    /// protected by control
    @exclusivity(unchecked) public private(set) var policy: ReaperPolicyChoice
    /// protected by control
    @exclusivity(unchecked) public private(set) var nextStart = 0
    /// protected by control
    @exclusivity(unchecked) public private(set) var interval: Int64
    /// protected by control; mirrored in `nextDueMirror`
    @exclusivity(unchecked) public private(set) var nextDue: Int64 {
        didSet { nextDueMirror.store(nextDue, ordering: .relaxed) }
    }
    /// `nextDue` and the reaper's removals, stored whenever they change
    /// (the removals when the control lock is released after passes),
    /// for `nextDueTime` and `removedSoFar`: a lock-step boundary reads
    /// them on every window, and the control lock's line would move to
    /// whichever worker arrived last there.
    private let nextDueMirror = Atomic<Int64>(0)
    private let removedMirror = Atomic<UInt64>(0)
    /// protected by control: the first `historyLimit` passes (the totals
    /// below keep counting past it)
    @exclusivity(unchecked) public private(set) var history: [PassRecord] = []
    /// protected by control: passes run
    @exclusivity(unchecked) public private(set) var passes = 0
    /// protected by control: exact totals over every pass
    @exclusivity(unchecked) public private(set) var totals = Totals()
    /// protected by control: the reaper's own counters
    @exclusivity(unchecked) public private(set) var ctx: WorkerContext
    public let historyLimit: Int
    /// Compute idle passes from a sweep summary in `runDue` (see there).
    public let fastForward: Bool
    /// protected by control: the summary of the last `runDue(keepSummary:)`,
    /// kept true by `noteProcessed` until the next one
    @exclusivity(unchecked) private var kept: SweepSummary? = nil
    /// Whether `kept` is set (read without the lock on every batch).
    private let keeping = Atomic<Bool>(false)
    /// protected by control: `totals.fastForwarded` when the summary in
    /// use was built (nil: none in use)
    @exclusivity(unchecked) private var summaryBuiltAt: Int? = nil
    /// protected by control: how many walks of the table the passes due
    /// must be worth, over the one a summary costs, before one is built
    /// (`worthSummarising`). Doubled each time a summary spared less than
    /// one walk, halved when one spared more: an adaptive schedule
    /// (linux2022's next pass comes after the time entries have left)
    /// can make a gap that looked like hundreds of passes at the current
    /// interval take a few, after which the summary's upkeep on every
    /// later pass and packet costs more than it saves (a sparse capture:
    /// a third of the table time). Counters are the same either way.
    @exclusivity(unchecked) private var summaryBar: Int64 = 1
    /// Set by `stop`, read by the reaper thread.
    let stopRequested = Atomic<Bool>(false)
    private let activityPadBefore = CacheLinePad()
    /// 2k - 1 while pass k (from 1, as in `history`) is walked, 2k after
    /// it: a paced run's workers read it at their batch boundaries to tell
    /// whether a pass ran during a batch (`passActivity`), so it sits on a
    /// line of its own, away from what the reaper writes during a pass.
    private let activity = Atomic<UInt64>(0)
    private let activityPadAfter = CacheLinePad()
    /// protected by control (start/stop are called from one controlling thread)
    var thread: OSThread?
    /// protected by control: the workers lent for the current `runDue`
    @exclusivity(unchecked) private var team: ReapTeam? = nil
    /// protected by control: wall time of the work split across a team
    /// (every worker busy, none waiting): the scans of split passes, and
    /// the removals of those walked in parts; the passes run that way, and
    /// of them those whose removals were walked in parts
    @exclusivity(unchecked) public private(set) var splitScanNanos: Int64 = 0
    @exclusivity(unchecked) public private(set) var splitPasses = 0
    @exclusivity(unchecked) public private(set) var splitWalks = 0
    /// protected by control: slots the split scans tallied, and slots their
    /// passes reached (the rest was scanned past an eviction cap)
    @exclusivity(unchecked) public private(set) var splitSlotsScanned = 0
    @exclusivity(unchecked) public private(set) var splitSlotsReached = 0
    /// protected by control: what the parties of a split pass remove with
    /// when they walk its removals together (`scanAndWalkInParts`), one per
    /// party; their counters and lock-order findings go to `ctx` after
    /// each pass.
    @exclusivity(unchecked) private var partContexts = UnsafeMutableBufferPointer<WorkerContext>(start: nil, count: 0)
    /// protected by control: each party's share of the pass being split
    /// (`scanAndWalkInParts`): the counts of the slots it reached, its
    /// removals, the end of the last slots it reached, and whether a leaf
    /// it was to compute for the summary could not be
    @exclusivity(unchecked) private var partResults = UnsafeMutableBufferPointer<PartResult>(start: nil, count: 0)
    struct PartResult {
        var result = ReapPassResult()
        var reachedEnd = 0
        /// A slot's new leaf could not be computed (the design does not
        /// summarise slot by slot): the summary is given up.
        var leafMissing = false
        /// The expired connections of the chunk the party scanned last
        /// (capacity kept from pass to pass).
        var expired: [UInt32] = []
    }
    /// protected by control: the new leaves of the slots a split pass
    /// removed in (`scanAndWalkInParts` with a summary)
    @exclusivity(unchecked) private var leafScratch = UnsafeMutableBufferPointer<SweepSummary.Leaf>(start: nil, count: 0)

    /// protected by control: removals per slot of the last pass that
    /// removed something, to guess where the next will stop at its
    /// eviction cap (`expectedReach`, `splitRound`)
    @exclusivity(unchecked) private var removedPerSlot = 0.0

    /// A reaper whose first pass is due at `startTime + startDelay`.
    public init(table: Table, policy: ReaperPolicyChoice, startDelay: Int64 = 5 * Duration_ns.second,
                startTime: Int64, checkLockOrder: Bool = LockTracker.enabledByDefault,
                lockAction: LockTracker.Action = .record, historyLimit: Int = 100_000, watch: WatchSlot? = nil,
                fastForward: Bool = true) {
        self.table = table
        self.fastForward = fastForward
        self.policy = policy
        self.interval = policy.initialPrevious(startDelay: startDelay)
        self.nextDue = startTime &+ startDelay
        nextDueMirror.store(nextDue, ordering: .relaxed)
        self.historyLimit = historyLimit
        self.ctx = WorkerContext(name: "reaper", checkLockOrder: checkLockOrder, action: lockAction)
        self.ctx.watch = watch
    }

    deinit {
        partContexts.deinitialize().deallocate()
        partResults.deinitialize().deallocate()
        leafScratch.deallocate()
    }

    /// Where the reaper's removals are recorded (`--events`): a lane of its
    /// own. Preconditions: the reaper has not started.
    public func attachTrace(_ lane: UnsafeMutablePointer<TraceLane>?) {
        precondition(thread == nil, "attach the trace before the reaper starts")
        ctx.trace = lane
    }

    /// Runs every pass due at or before `now`, each with its due time as
    /// its clock, scheduling the next at due time + returned interval.
    /// `observed` is the run's time at which the passes actually run (for
    /// their lag): `now` by default; a lock-step window passes the time its
    /// packets were processed at, since every pass due inside the window runs
    /// right after them and before the next window's. Returns the number of
    /// passes run.
    ///
    /// With `fastForward`, when the passes due would walk the table at
    /// least twice over, the table's sweep summary is built and every pass
    /// whose window holds nothing expired is computed from it instead of
    /// walked: its counters, lock counts and interval are those of the walk
    /// (a gap of years in virtual time costs the passes that find
    /// something, not one per interval).
    /// Preconditions: no other thread changes the table during the call
    /// (the reaper's own thread calls it without fast-forward).
    ///
    /// With `keepSummary`, the summary is kept for the next call, which
    /// uses it if every packet processed in between was handed to
    /// `noteProcessed` (one thread, the reaper inline).
    ///
    /// With `team` (the workers waiting at a lock-step boundary, the caller
    /// being its coordinator), a walked pass of a design that
    /// `scansForReap` is split: every worker scans its share of the pass's
    /// slots, read-only, then what the pass would have removed is removed
    /// in the slots it would have reached (by every worker, when the table
    /// `walksSlotsIndependently`; by the coordinator otherwise), so the
    /// counters, the policy's arithmetic and the next start are those of
    /// the walk.
    @discardableResult
    public func runDue(upTo now: Int64, observed: Int64? = nil, keepSummary: Bool = false,
                       team: ReapTeam? = nil) -> Int {
        control.lock()
        defer { publishRemoved(); control.unlock() }
        self.team = team
        defer { self.team = nil }
        var summary = kept
        kept = nil
        keeping.store(false, ordering: .relaxed)
        let computed0 = totals.fastForwarded
        let n = runDueLocked(upTo: now, observed: observed ?? now, exclusive: true, summary: &summary)
        // Kept while gaps keep using it; dense traffic (a pass or two per
        // call) drops it, so its packets pay nothing for it.
        if keepSummary && fastForward && totals.fastForwarded > computed0, let s = summary, s.valid {
            kept = s
            keeping.store(true, ordering: .relaxed)
        } else if let built = summaryBuiltAt {
            judgeSummary(computed: totals.fastForwarded - built)
        }
        return n
    }

    /// Keeps the summary of the last `runDue(keepSummary: true)` true after
    /// `packets` were processed. Preconditions: called by the one thread
    /// that processes packets, for every packet it processes between two
    /// `runDue` calls, in order.
    @inline(__always)
    public func noteProcessed(_ packets: UnsafeBufferPointer<Packet>) {
        guard keeping.load(ordering: .relaxed) else { return }
        control.withLock {
            guard kept != nil else { return }
            table.updateSweepSummary(&kept!, after: packets)
            if !kept!.valid {
                kept = nil
                keeping.store(false, ordering: .relaxed)
            }
        }
    }

    /// Preconditions: control is locked.
    private func runDueLocked(upTo now: Int64, observed: Int64, exclusive: Bool, summary: inout SweepSummary?) -> Int {
        let p0 = passes
        var cycle: PassCycle? = nil
        while nextDue <= now {
            // A background reaper may be asked to stop mid-catch-up.
            if stopRequested.load(ordering: .relaxed) { break }
            if exclusive && fastForward {
                if summary?.valid != true && worthSummarising(upTo: now) {
                    if let built = summaryBuiltAt { judgeSummary(computed: totals.fastForwarded - built) }
                    summary = makeSummary()
                    // Invalid from a design that does not fast-forward.
                    if summary!.valid {
                        totals.summariesBuilt += 1
                        summaryBuiltAt = totals.fastForwarded
                    }
                }
                if let s = summary, s.valid {
                    // Periods are looked for once the history is full: until
                    // then every pass leaves its own record.
                    if history.count >= historyLimit {
                        if cycle == nil { cycle = anchor() }
                        cycle!.steps.append((nextDue &- cycle!.nextDue, interval))
                    }
                    if idlePass(at: nextDue, observed: observed, summary: s) {
                        nextDue &+= interval
                        if let c = cycle {
                            if currentState == c.state {
                                skipPeriods(of: c, upTo: now, observed: observed, summary: s)
                                cycle = nil
                            } else if c.steps.count >= c.patience {
                                cycle = anchor()
                                cycle!.patience = 2 * c.patience
                            }
                        }
                        continue
                    }
                }
            }
            cycle = nil
            onePass(at: nextDue, observed: observed, summary: &summary)
            nextDue &+= interval
        }
        return passes - p0
    }

    /// Preconditions: control is locked.
    private var currentState: PassCycle.State { .init(interval: interval, nextStart: nextStart, policy: policy) }

    /// Preconditions: control is locked.
    private func anchor() -> PassCycle {
        PassCycle(state: currentState, nextDue: nextDue,
                  counters: .init(passes: passes, checked: totals.checked, tableLocks: ctx.stats.tableLock.acquisitions,
                                  bucketLocks: ctx.stats.bucketLock.acquisitions,
                                  connLocks: ctx.stats.connLock.acquisitions))
    }

    /// The state is back at `c`'s anchor after computed passes over an
    /// unchanged table: adds as many whole repeats of those passes as are
    /// due by `now` and certain to find nothing expired, to every counter
    /// at once. A repeat is the same passes only when the schedule does not
    /// read the time left on entries, or there are none.
    /// Preconditions: control is locked; the history is full.
    private func skipPeriods(of c: PassCycle, upTo now: Int64, observed: Int64, summary: SweepSummary) {
        let period = nextDue &- c.nextDue
        let all = summary.total
        guard period > 0, !policy.readsRemainingTime || all.count == 0 else { return }
        // Every pass of m repeats is due before nextDue + m·period: by `now`,
        // and (for a table that holds entries) by the earliest expiry.
        var m = (now &- nextDue) / period
        if all.count > 0 { m = min(m, (all.minExpiry &- nextDue) / period) }
        guard m > 0 else { return }
        let k = Int64(passes - c.counters.passes)
        totals.late += Int(c.latePasses(periods: m, period: period, start: nextDue, observed: observed))
        totals.maxLagNanos = max(totals.maxLagNanos, observed &- nextDue)
        passes += Int(m * k)
        totals.fastForwarded += Int(m * k)
        totals.checked += Int(m) * (totals.checked - c.counters.checked)
        ctx.stats.tableLock.acquisitions &+= UInt64(m) &* (ctx.stats.tableLock.acquisitions &- c.counters.tableLocks)
        ctx.stats.bucketLock.acquisitions &+= UInt64(m) &* (ctx.stats.bucketLock.acquisitions &- c.counters.bucketLocks)
        ctx.stats.connLock.acquisitions &+= UInt64(m) &* (ctx.stats.connLock.acquisitions &- c.counters.connLocks)
        ctx.watch?.progress.add(UInt64(m * k), ordering: .relaxed)
        nextDue &+= m &* period
    }

    /// The passes due by `now`, at the current interval, would walk the
    /// table at least twice: building a summary (one walk) pays.
    /// Preconditions: control is locked.
    private func worthSummarising(upTo now: Int64) -> Bool {
        let size = table.sweepSlots
        let perPass = max(1, policy.plan(tableSize: size).maxSlots)
        let due = (now &- nextDue) / max(1, interval) &+ 1
        let (slots, overflow) = due.multipliedReportingOverflow(by: Int64(perPass))
        return due >= 64 && (overflow || slots / 2 / summaryBar >= Int64(size))
    }

    /// A summary is dropped after `computed` passes were computed from it:
    /// raises the bar for the next one if it spared less than a walk of
    /// the table, lowers it if it spared more.
    /// Preconditions: control is locked.
    private func judgeSummary(computed: Int) {
        summaryBuiltAt = nil
        let size = table.sweepSlots
        let perPass = max(1, policy.plan(tableSize: size).maxSlots)
        let (spared, overflow) = computed.multipliedReportingOverflow(by: perPass)
        if !overflow && spared < size {
            summaryBar = min(summaryBar * 2, 1 << 20)
        } else {
            summaryBar = max(1, summaryBar / 2)
        }
    }

    /// The pass due at `nextDue`, computed from `summary` when nothing in
    /// its window has expired; false when it must be walked.
    /// Preconditions: control is locked.
    private func idlePass(at now: Int64, observed: Int64, summary: SweepSummary) -> Bool {
        let size = table.sweepSlots
        let plan = policy.plan(tableSize: size)
        guard let r = table.idlePass(start: nextStart, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions,
                                     now: now, summary: summary, &ctx) else { return false }
        totals.fastForwarded += 1
        record(r, at: now, observed: observed, size: size, durationNanos: 0, cpuNanos: 0, fastForwarded: true)
        return true
    }

    /// Runs the pass due at `nextDue` with `now` as its clock; `observed`
    /// is the run's time when it actually started (for the lag). A summary,
    /// when there is one, is kept true of the table.
    /// Preconditions: control is locked.
    private func onePass(at now: Int64, observed: Int64, summary: inout SweepSummary?) {
        activity.store(2 &* UInt64(passes) &+ 1, ordering: .relaxed)
        defer { activity.store(2 &* UInt64(passes), ordering: .relaxed) }
        ctx.locks.willAcquire(.reaperControl, file: #fileID, line: #line)
        let size = table.sweepSlots
        let plan = policy.plan(tableSize: size)
        let c0 = threadCPUNanos()
        let t0 = MonotonicClock.read()
        let r: ReapPassResult
        var helperCPU: Int64 = 0
        if let team, table.scansForReap, plan.maxSlots <= size,
           min(plan.maxSlots, expectedReach(maxEvictions: plan.maxEvictions)) >= team.minSlotsPerParty * team.parties,
           summary == nil || table.splitPassKeepsSummary {
            r = splitPass(start: nextStart, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions, now: now,
                          team: team, summary: &summary, helperCPU: &helperCPU)
        } else if summary != nil {
            r = table.reapPass(start: nextStart, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions,
                               now: now, updating: &summary!, &ctx)
        } else {
            r = table.reapPass(start: nextStart, maxSlots: plan.maxSlots, maxEvictions: plan.maxEvictions, now: now, &ctx)
        }
        let dt = MonotonicClock.read() - t0
        if r.removed > 0 && r.slotsScanned > 0 { removedPerSlot = Double(r.removed) / Double(r.slotsScanned) }
        record(r, at: now, observed: observed, size: size, durationNanos: dt,
               cpuNanos: threadCPUNanos() - c0 + helperCPU, fastForwarded: false)
        ctx.locks.released(.reaperControl)
        // The reaper holds no connection pointer between passes.
        table.reclaim(&ctx)
    }

    /// A walked pass, split: the team tallies the slots from `start` in
    /// rounds sized to end where the walk would stop (`splitRound`); the
    /// pass reaches the slots up to the one where the removals found so
    /// far (the expired less those lock order defers) reach `maxEvictions`
    /// (at a boundary nothing else changes the table, so the walk removes
    /// each one); then the coordinator walks only the reached runs of
    /// slots that hold expired connections, to remove them. A table that
    /// walks slots independently, with no trace needing one writer, has
    /// its scan and removals done together by every party instead
    /// (`scanAndWalkInParts`). `helperCPU` gets the other parties' CPU time.
    /// Preconditions: control is locked; every other party of `team` is in
    /// `serve`.
    private func splitPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, team: ReapTeam,
                           summary: inout SweepSummary?, helperCPU: inout Int64) -> ReapPassResult {
        let tallies = team.tallyBuffer(maxSlots)
        if ctx.trace == nil && table.walksSlotsIndependently {
            return scanAndWalkInParts(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now,
                                      team: team, tallies: tallies, summary: &summary, helperCPU: &helperCPU)
        }
        let table = self.table
        var res = ReapPassResult()
        var reached = 0
        // What the walk will remove: the expired it does not defer.
        var removable = 0
        let t0 = MonotonicClock.read()
        scanning: while reached < maxSlots {
            let base = reached
            let n = min(maxSlots - reached, splitRound(team, reached: reached, removable: removable, maxEvictions: maxEvictions))
            splitSlotsScanned += n
            helperCPU += team.run(over: n, chunk: team.chunk(for: n)) { _, r in
                let lo = base + r.lowerBound, hi = base + r.upperBound
                table.scanForReap(start: start, range: lo..<hi, now: now,
                                  into: UnsafeMutableBufferPointer(rebasing: tallies[lo..<hi]))
            }
            reached = Self.countReached(tallies, base..<(base + n), maxEvictions: maxEvictions,
                                        removable: &removable, into: &res)
            if removable >= maxEvictions { break scanning }
        }
        splitScanNanos += MonotonicClock.read() - t0
        splitPasses += 1
        splitSlotsReached += reached
        walk(start: start, 0..<reached, now: now, tallies: tallies, summary: &summary, &ctx, into: &res)
        res.slotsScanned = reached
        res.stoppedEarly = reached < maxSlots
        res.nextStart = table.reapNextStart(start: start, scanned: reached)
        return res
    }

    /// Counts the tallies of the slots `range` into `res`, up to the slot
    /// where `removable` (the removals so far, added to as it goes)
    /// reaches `maxEvictions`, where the walk stops; returns the end of
    /// the slots counted.
    private static func countReached(_ tallies: UnsafeMutableBufferPointer<ReapSlotTally>, _ range: Range<Int>,
                                     maxEvictions: Int, removable: inout Int, into res: inout ReapPassResult) -> Int {
        var end = range.lowerBound
        for k in range {
            let t = tallies[k]
            res.checked += t.checked
            res.expired += t.expired
            res.liveChecked += t.liveChecked
            res.remainingSum += t.remainingSum
            removable += t.expired - t.deferred
            end = k + 1
            if removable >= maxEvictions { break }
        }
        return end
    }

    /// The removals of a split pass that reached the slots `range` from
    /// `start`: the runs of slots in it the scan found something expired
    /// in are walked, and must find what the scan did.
    private func walk(start: Int, _ range: Range<Int>, now: Int64, tallies: UnsafeMutableBufferPointer<ReapSlotTally>,
                      summary: inout SweepSummary?, _ ctx: inout WorkerContext, into res: inout ReapPassResult) {
        var k = range.lowerBound
        let reached = range.upperBound
        while k < reached {
            guard tallies[k].expired > 0 else { k += 1; continue }
            var e = k, expired = 0, deferred = 0
            while e < reached && tallies[e].expired > 0 {
                expired += tallies[e].expired
                deferred += tallies[e].deferred
                e += 1
            }
            // The design keeps a summary true of what it removes.
            let w = summary != nil
                ? table.reapPass(start: start &+ k, maxSlots: e - k, maxEvictions: .max, now: now, updating: &summary!, &ctx)
                : table.reapPass(start: start &+ k, maxSlots: e - k, maxEvictions: .max, now: now, &ctx)
            // A design whose scan and walk disagree would report the scan's
            // counts for a pass that did something else: checked in release
            // builds too (once per run of slots, not per slot).
            precondition(w.expired == expired && w.deferred == deferred && w.removed == expired - deferred,
                         "split reaper pass: the walk of slots \(k)..<\(e) found \(w.expired) expired and deferred \(w.deferred), the scan \(expired) and \(deferred)")
            res.removed += w.removed
            res.deferred += w.deferred
            k = e
        }
    }

    /// A split pass of a table that walks slots independently, with no
    /// trace: each party scans a chunk of the slots, and once the chunks
    /// before it have added up what they would remove, removes the expired
    /// connections its scan handed back in the part of the chunk the pass
    /// reaches, while the chunk is still in its cache (scanning every
    /// reached slot and only then walking them again cost each party about
    /// as much as one walk alone). The pass stops where the removals reach
    /// `maxEvictions`, as the walk alone would; the chunks claimed before
    /// that was known are scanned past it. A summary is kept true as the
    /// walk keeps it: the party that removed in a slot computes its new
    /// leaf, and the coordinator sets the leaves afterwards. `helperCPU`
    /// gets the other parties' CPU time.
    /// Preconditions: control is locked; every other party of `team` is in
    /// `serve`; the table `walksSlotsIndependently`.
    private func scanAndWalkInParts(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, team: ReapTeam,
                                    tallies: UnsafeMutableBufferPointer<ReapSlotTally>, summary: inout SweepSummary?,
                                    helperCPU: inout Int64) -> ReapPassResult {
        let t0 = MonotonicClock.read()
        preparePartContexts(team.parties)
        let table = self.table, contexts = partContexts, results = partResults
        let size = table.sweepSlots
        let leaves = summary == nil ? UnsafeMutableBufferPointer<SweepSummary.Leaf>(start: nil, count: 0)
                                    : leafBuffer(maxSlots)

        // Small enough that at most a chunk per party is scanned past the
        // cap, and that a chunk is still in cache when it is walked.
        let chunk = team.chunk(for: min(maxSlots, expectedReach(maxEvictions: maxEvictions)))
        let (cpu, measured) = team.run(inOrderOver: maxSlots, chunk: chunk, limit: maxEvictions,
            measure: { part, r in
                results[part].expired.removeAll(keepingCapacity: true)
                table.scanForReap(start: start, range: r, now: now, into: UnsafeMutableBufferPointer(rebasing: tallies[r]),
                                  expired: &results[part].expired)
                var removable = 0
                for k in r { removable += tallies[k].expired - tallies[k].deferred }
                return removable
            },
            use: { part, r, before in
                var res = results[part].result
                let expiredBefore = res.expired
                var removable = before
                let end = Self.countReached(tallies, r, maxEvictions: maxEvictions, removable: &removable, into: &res)
                let expired = res.expired - expiredBefore
                // The slots up to `end` hold the first `expired` of those the
                // scan handed back; nothing changed them since.
                let removed = results[part].expired.withUnsafeBufferPointer {
                    table.removeScanned(UnsafeBufferPointer(rebasing: $0[0..<expired]), now: now, &contexts[part])
                }
                // Checked in release builds too, once per chunk: a design
                // whose scan and removals disagree would report the scan's
                // counts for a pass that did something else.
                precondition(removed == expired,
                             "split reaper pass: removed \(removed) of the \(expired) expired connections the scan found in slots \(r.lowerBound)..<\(end)")
                res.removed += removed
                if leaves.count > 0 {
                    for k in r.lowerBound..<end where tallies[k].expired > 0 {
                        let s = (start &+ k) % size
                        if !table.summariseSlots(s..<(s + 1), into: UnsafeMutableBufferPointer(rebasing: leaves[k...k])) {
                            results[part].leafMissing = true
                        }
                    }
                }
                results[part].result = res
                results[part].reachedEnd = max(results[part].reachedEnd, end)
            })
        helperCPU += cpu
        var res = ReapPassResult()
        var reached = 0
        for i in 0..<team.parties {
            let p = results[i].result
            res.checked += p.checked
            res.expired += p.expired
            res.liveChecked += p.liveChecked
            res.remainingSum += p.remainingSum
            res.removed += p.removed
            res.deferred += p.deferred
            reached = max(reached, results[i].reachedEnd)
        }
        mergePartContexts(team.parties)
        assert(res.removed >= maxEvictions || reached == maxSlots, "a split pass stopped short of its cap")
        if summary != nil {
            if !(0..<team.parties).contains(where: { results[$0].leafMissing }) {
                for k in 0..<reached where tallies[k].expired > 0 { summary!.set((start &+ k) % size, leaves[k]) }
            } else if res.removed > 0 {
                summary!.valid = false
            }
        }
        splitScanNanos += MonotonicClock.read() - t0
        splitPasses += 1
        splitWalks += 1
        splitSlotsScanned += measured
        splitSlotsReached += reached
        res.slotsScanned = reached
        res.stoppedEarly = reached < maxSlots
        res.nextStart = table.reapNextStart(start: start, scanned: reached)
        return res
    }

    /// A leaf buffer of at least `n` slots. Preconditions: control is
    /// locked; no split pass runs.
    private func leafBuffer(_ n: Int) -> UnsafeMutableBufferPointer<SweepSummary.Leaf> {
        if leafScratch.count < n {
            leafScratch.deallocate()
            leafScratch = .allocate(capacity: n)
            leafScratch.initialize(repeating: .empty)
        }
        return UnsafeMutableBufferPointer(rebasing: leafScratch[0..<n])
    }

    /// `partContexts` and `partResults` for `parties` parties, the results
    /// zeroed. Preconditions: control is locked.
    private func preparePartContexts(_ parties: Int) {
        if partContexts.count < parties {
            partContexts.deinitialize().deallocate()
            partResults.deinitialize().deallocate()
            partContexts = .allocate(capacity: parties)
            for i in 0..<parties {
                var c = WorkerContext(name: "reaper, part \(i)", checkLockOrder: ctx.locks.enabled, action: ctx.locks.action)
                // Party i is worker i, waiting at the boundary.
                c.retireShard = UInt8(truncatingIfNeeded: i)
                (partContexts.baseAddress! + i).initialize(to: c)
            }
            partResults = .allocate(capacity: parties)
            partResults.initialize(repeating: PartResult())
        }
        for i in 0..<parties {
            partResults[i].result = ReapPassResult()
            partResults[i].reachedEnd = 0
            partResults[i].leafMissing = false
        }
    }

    /// The part contexts' counters and lock-order findings, moved to the
    /// reaper's. Preconditions: control is locked.
    private func mergePartContexts(_ parties: Int) {
        let contexts = partContexts
        for i in 0..<parties {
            ctx.stats.merge(contexts[i].stats)
            contexts[i].stats = TableStats()
            if !contexts[i].locks.violations.isEmpty {
                ctx.locks.violations += contexts[i].locks.violations
                contexts[i].locks.violations = []
            }
        }
    }

    /// Slots a pass with an eviction cap of `maxEvictions` is expected to
    /// reach, at the removals per slot of the last pass that removed
    /// something (.max: no cap in sight). Preconditions: control is locked.
    private func expectedReach(maxEvictions: Int, removed: Int = 0, perSlot: Double? = nil) -> Int {
        let d = perSlot ?? removedPerSlot
        guard d > 0, maxEvictions < Int.max / 2 else { return .max }
        let n = (Double(maxEvictions - removed) / d).rounded(.up)
        return n >= Double(Int.max / 2) ? .max : Int(n)
    }

    /// Slots for the next round of a split pass that has `reached` slots
    /// with `removable` removals so far. An eviction cap stops most passes
    /// of a busy table early (linux2022: about half way on a sparse
    /// capture), and every slot scanned past the stop is wasted, while
    /// every round costs two barrier crossings: so the round is sized to
    /// where the cap should be reached, a tenth more, from the removals
    /// per slot seen so far in this pass (before the first round, in the
    /// last pass), and at least `minSlotsPerParty` per party; a pass
    /// without a cap in sight is scanned in one round.
    /// Preconditions: control is locked.
    private func splitRound(_ team: ReapTeam, reached: Int, removable: Int, maxEvictions: Int) -> Int {
        let n = expectedReach(maxEvictions: maxEvictions, removed: removable,
                              perSlot: removable > 0 ? Double(removable) / Double(reached) : nil)
        return n == .max ? .max : max(team.minSlotsPerParty * team.parties, n + n / 10)
    }

    /// The table's sweep summary; with a team and a design that summarises
    /// slot by slot, built in parts by every party.
    /// Preconditions: control is locked; with a team, every other party is
    /// in `serve`.
    private func makeSummary() -> SweepSummary {
        guard let team else { return table.makeSweepSummary() }
        let n = table.sweepSlots
        var leaves = [SweepSummary.Leaf](repeating: .empty, count: n)
        let parties = team.parties
        let table = self.table
        // Not pass time: like a summary built whole, it is not counted in
        // the reaper's busy or CPU time.
        let whole = leaves.withUnsafeMutableBufferPointer { buf -> Bool in
            nonisolated(unsafe) let buf = buf
            // Claimed in chunks, like a split scan: a party on a slower
            // vCPU takes fewer.
            let done = UnsafeMutableBufferPointer<Bool>.allocate(capacity: parties)
            defer { done.deallocate() }
            done.initialize(repeating: true)
            _ = team.run(over: n, chunk: team.chunk(for: n)) { part, r in
                if !table.summariseSlots(r, into: UnsafeMutableBufferPointer(rebasing: buf[r])) { done[part] = false }
            }
            return done.allSatisfy { $0 }
        }
        return whole ? SweepSummary(leaves: leaves) : table.makeSweepSummary()
    }

    /// Counts a pass and asks the policy for the next interval: the same
    /// for walked and computed passes. Preconditions: control is locked.
    private func record(_ r: ReapPassResult, at now: Int64, observed: Int64, size: Int, durationNanos dt: Int64,
                        cpuNanos: Int64, fastForwarded: Bool) {
        let lag = max(0, observed &- nextDue)
        if lag > interval { totals.late += 1 }
        totals.maxLagNanos = max(totals.maxLagNanos, lag)
        totals.cpuNanos += cpuNanos
        let next = policy.next(after: r, previous: interval, tableSize: size)
        if history.count < historyLimit {
            history.append(PassRecord(at: now, start: nextStart, checked: r.checked, expired: r.expired,
                                      removed: r.removed, deferred: r.deferred, interval: next, durationNanos: dt,
                                      lagNanos: lag, fastForwarded: fastForwarded))
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
                        var none: SweepSummary? = nil
                        onePass(at: t, observed: t, summary: &none)
                        nextDue = now() &+ interval
                        publishRemoved()
                        control.unlock()
                    } else {
                        control.lock()
                        var none: SweepSummary? = nil
                        _ = runDueLocked(upTo: t, observed: t, exclusive: false, summary: &none)
                        publishRemoved()
                        control.unlock()
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

    /// The reaper's state and counters, for a save. Preconditions: the
    /// reaper thread is stopped (the seed's `beforeSave`), or the caller
    /// takes the state between two passes (a save while running).
    public func savedState() -> ReaperState {
        control.withLock {
            ReaperState(policy: policy, passes: passes, nextStart: nextStart, interval: interval, nextDue: nextDue,
                        history: history, totals: totals, stats: ctx.stats)
        }
    }

    /// Takes up a saved state: the same position, interval, policy state
    /// and counters. The next pass is due when it was, but not before
    /// `earliest` (the seed's `afterLoad` restarts the reaper after its
    /// start delay). Preconditions: the reaper thread is stopped.
    public func restore(_ s: ReaperState, earliest: Int64) {
        control.withLock {
            policy = s.policy; passes = s.passes; nextStart = s.nextStart; interval = s.interval
            nextDue = max(s.nextDue, earliest)
            history = Array(s.history.prefix(historyLimit)); totals = s.totals; ctx.stats = s.stats
            publishRemoved()
        }
    }

    /// Preconditions: control is locked.
    private func publishRemoved() {
        removedMirror.store(ctx.stats.removedByReaper, ordering: .relaxed)
    }

    /// When the next pass is due: as of the last change, without the lock.
    public var nextDueTime: Int64 { nextDueMirror.load(ordering: .relaxed) }

    /// Passes that were due by `end` on the run's clock but did not run,
    /// counted at the current interval (the schedule would have adapted,
    /// so this is an estimate when it is not 0).
    public func passesOutstanding(at end: Int64) -> Int {
        control.withLock {
            guard nextDue <= end, interval > 0 else { return 0 }
            return Int(min(Int64(Int32.max), (end - nextDue) / interval + 1))
        }
    }

    /// 2k - 1 while pass k (from 1, as numbered in `history`) is walked,
    /// 2k once it ended (computed passes take no time and leave it alone);
    /// it only grows.
    public var passActivity: UInt64 { activity.load(ordering: .relaxed) }

    /// Connections removed by the reaper so far: as of the last time the
    /// control lock was released after passes, without the lock.
    public var removedSoFar: UInt64 { removedMirror.load(ordering: .relaxed) }

    /// Lock-order violations recorded by the reaper's checker.
    public var violations: [LockOrderViolation] { control.withLock { ctx.locks.violations } }
}
