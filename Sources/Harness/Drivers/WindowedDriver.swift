import ConnTrack
import Dispatch
import Sync

/// Multi-worker virtual-time runs in lock-step windows of `window` ns of
/// virtual time. Every worker processes the packets of window [T, T+W) at
/// virtual time T, so workers never drift apart and all of them, and the
/// reaper, judge expiry against the same "now". Between windows the workers
/// wait while the leader calls the boundary hooks and runs the reaper's
/// passes due by the next window's start (each at its due time).
/// Generation happens between rounds, untimed, as in the free-running
/// driver; a round ends when some worker's buffer cannot complete the
/// current window, and the window continues after the refill.
///
/// What stays order-dependent is the interleaving of different workers'
/// operations on the same bucket inside one window (see README,
/// "Determinism").
enum WindowedDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>, hooks: BoundaryHooks) -> DriveResult {
        precondition(env.cfg.windowNanos > 0, "the windowed driver needs a window")
        let run = Run(env, hooks: hooks)
        let group = DispatchGroup()
        for i in 0..<env.workers.count {
            let q = DispatchQueue(label: "conntrack-bench.worker-\(i)")
            group.enter()
            q.async {
                run.work(i)
                group.leave()
            }
        }
        group.wait()
        return run.finish()
    }
}

extension WindowedDriver {
    /// One lock-step run: what its workers share, the rounds each worker
    /// goes through, and the leader's steps between them.
    final class Run<T: ConnTrackTable>: @unchecked Sendable {
        let env: RunEnvironment<T>
        let hooks: BoundaryHooks
        /// Virtual time per window, ns.
        let window: Int64
        let slots: [Int]
        let lanes: [Lane]
        let barrier: Barrier
        let contexts: ContextBox
        /// The workers lent to the reaper at a boundary, when its passes
        /// can be split (`Reaper.runDue(team:)`); nil: the leader runs them
        /// alone in the barrier's action.
        let team: ReapTeam?

        // Written only by the leader in barrier actions; the barrier orders
        // the workers' reads after the writes.
        /// Start of the current window: its packets are processed at it.
        var start: Int64 = 0
        /// End of the current window (exclusive): `start` plus one or more
        /// spans of `window` (`windowEnd(from:)`).
        var end: Int64 = 0
        var done = false
        var roundOver = false
        /// Passes are due by this time: after the barrier every worker
        /// joins the team, worker 0 coordinating; nil: none. Set and
        /// cleared only in barrier actions.
        var reapUpTo: Int64? = nil
        var reapObserved: Int64 = 0
        var roundStart: Int64 = 0
        var tableNanos: Int64 = 0
        var windows = 0
        /// The most live connections at a window boundary.
        var livePeak: Int64 = 0
        /// What the leader needs of worker i at a boundary, on a line of
        /// its own at `boundary + i * boundaryStride`: its connections
        /// created less removed, its lane's next timestamp (.max: drained)
        /// and whether the lane needs a refill (1) — written by worker i
        /// after each window and refill, read by the leader at the boundary
        /// after it (the barrier orders them). The leader reads one line
        /// per worker instead of several, and takes no reference to the
        /// worker's lane or shared state, whose count a retain would write
        /// next to what the worker writes every window.
        let boundary: UnsafeMutablePointer<Int64>
        /// One index per lane, for the leader's `windowEnd` (barrier
        /// actions only).
        let laneScratch: UnsafeMutableBufferPointer<Int>
        static var boundaryStride: Int { 16 }
        /// The fields of a worker's `boundary` record.
        static var netField: Int { 0 }
        static var nextField: Int { 1 }
        static var refillField: Int { 2 }

        init(_ env: RunEnvironment<T>, hooks: BoundaryHooks) {
            self.env = env
            self.hooks = hooks
            window = env.cfg.windowNanos
            let threads = env.workers.count
            slots = (0..<threads).map { _ in env.table.registerWorker() }
            lanes = (0..<threads).map { _ in Lane(capacity: env.cfg.chunk) }
            barrier = Barrier(parties: threads, spinNanos: env.cfg.waitSpinNanos)
            boundary = .allocate(capacity: threads * Self.boundaryStride)
            boundary.initialize(repeating: 0, count: threads * Self.boundaryStride)
            laneScratch = .allocate(capacity: threads)
            laneScratch.initialize(repeating: 0)
            contexts = ContextBox(threads)
            team = threads > 1 && env.cfg.reaperEnabled && env.cfg.splitsReaperPasses && env.table.scansForReap
                ? ReapTeam(parties: threads, spinNanos: env.cfg.waitSpinNanos) : nil
        }

        deinit {
            boundary.deallocate()
            laneScratch.deallocate()
        }

        /// Worker i's `boundary` record.
        func record(_ i: Int) -> UnsafeMutablePointer<Int64> { boundary + i * Self.boundaryStride }

        /// Worker i's part of `boundary` after its lane moved.
        /// Preconditions: called by worker i, outside barrier actions.
        func publishLane(_ i: Int, _ lane: Lane) {
            let r = record(i)
            r[Self.nextField] = lane.next ?? .max
            r[Self.refillField] = lane.needsRefill ? 1 : 0
        }

        /// Worker `i`: rounds of a refill then windows, until the leader
        /// ends the run.
        func work(_ i: Int) {
            let worker = env.workers[i], slot = slots[i], lane = lanes[i]
            worker.beginThreadAccounting()
            defer { worker.endThreadAccounting() }
            var ctx = env.makeContext(i)
            let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
            var first = true
            var waiter = Waiter()
            while true {
                // Refill (untimed): keep the unprocessed tail, top up.
                env.table.workerOffline(slot)
                lane.refill(generationNanos: &worker.generationNanos) { env.fill(i, $0) }
                publishLane(i, lane)
                barrier.wait(&waiter) { beginRound(first: first) }
                first = false
                if done { break }
                env.table.workerQuiescent(slot)
                runWindows(i, worker, slot: slot, lane: lane, latencies: latencies, &ctx, &waiter)
                barrier.wait(&waiter) { endRound() }
            }
            worker.waits = waiter.stats
            worker.finished.store(true, ordering: .releasing)
            latencies.deallocate()
            contexts.set(i, ctx)
        }

        /// Windows until the leader ends the round: a lane cannot complete
        /// one, or the run ends.
        func runWindows(_ i: Int, _ worker: WorkerShared, slot: Int, lane: Lane, latencies: UnsafeMutableBufferPointer<UInt64>,
                        _ ctx: inout WorkerContext, _ waiter: inout Waiter) {
            while !roundOver {
                // Tests: the workers before this one in the window first.
                if env.cfg.workersTakeTurns { for _ in 0..<i { barrier.wait(&waiter) } }
                if lane.pos < lane.count {
                    let chunk = UnsafeBufferPointer(rebasing: lane.buf[lane.pos..<lane.count])
                    // Thread CPU time (two system calls) on one window in eight.
                    lane.pos += env.processWindow(chunk, start: start, end: end, worker: worker, slot: slot,
                                                  latencies: latencies, accountCPU: windows & 7 == 0, &ctx)
                    record(i)[Self.netField] = ctx.stats.createdLessRemoved
                    publishLane(i, lane)
                }
                if env.cfg.workersTakeTurns { for _ in i..<(slots.count - 1) { barrier.wait(&waiter) } }
                barrier.wait(&waiter) { advance() }
                if let upTo = reapUpTo { reapTogether(i, upTo: upTo) }
            }
        }

        /// Every worker, after a boundary that left passes due: worker 0
        /// runs them and the others help with their scans.
        func reapTogether(_ i: Int, upTo: Int64) {
            guard let team else { preconditionFailure("passes were left for a team that does not exist") }
            if i == 0 {
                env.reaper.runDue(upTo: upTo, observed: reapObserved, team: team)
                // `reapUpTo` stays set: a party may not have read it yet
                // (when no pass was split, nothing waited for it). The next
                // boundary's action clears it, once every party is there.
                team.release()
            } else {
                team.serve(i)
            }
        }

        /// The leader's step before a round's windows; the first places the
        /// first window where the earliest packet is.
        /// Preconditions: every worker waits at the barrier.
        func beginRound(first: Bool) {
            if first {
                if let t0 = lanes.lazy.compactMap(\.next).min() {
                    start = windowFloor(t0)
                    end = windowEnd(from: start)
                    if env.cfg.reaperEnabled { env.reaper.runDue(upTo: start) }
                } else {
                    done = true
                }
            }
            roundOver = false
            roundStart = MonotonicClock.read()
        }

        /// The leader's step between windows: the live peak, the hooks, then
        /// a refill, the end, or the next window.
        /// Preconditions: every worker waits at the barrier.
        func advance() {
            // Every worker read the last boundary's `reapUpTo` before it
            // came here.
            reapUpTo = nil
            // Every worker published its counters after its last batch of
            // the window: live is exact here. The whole counters are merged
            // only for hooks (2 µs a boundary, serial).
            let stats = hooks.isEmpty ? nil : mergedStats()
            // Not `stats.map(env.liveConnections)`: that closure would copy
            // the environment (a retain of everything in it, lines every
            // worker shares) at every window, hooks or not.
            if let stats {
                livePeak = max(livePeak, env.liveConnections(stats))
            } else {
                livePeak = max(livePeak, liveFromNets())
            }
            if StopSignal.requested != nil { endRun(); return }
            let step = nextStep()
            var next: Int64? = nil
            if case .window(let s) = step { next = s }
            // A soak checks (and may stop), a save lands, while every worker waits here.
            if let stats {
                let boundary = RunBoundary(now: start, next: next, workerStats: stats, livePeak: livePeak)
                if hooks.atBoundary(boundary) == .stop { endRun(); return }
            }
            switch step {
            case .refill: roundOver = true
            case .end: endRun()
            case .window(let s): startWindow(at: s)
            }
        }

        /// Where the run goes after the window just processed.
        enum Step {
            /// Some lane drained its buffer: a round of refills, then the
            /// same window goes on.
            case refill
            /// Every lane is drained and its source done.
            case end
            /// The next window that holds packets starts here.
            case window(Int64)
        }

        /// Preconditions: every worker waits at the barrier.
        func nextStep() -> Step {
            var next = Int64.max
            for i in 0..<slots.count {
                let r = record(i)
                if r[Self.refillField] != 0 { return .refill }
                next = min(next, r[Self.nextField])
            }
            guard next != .max else { return .end }
            // Empty windows are skipped.
            return .window(max(end, windowFloor(next)))
        }

        /// Moves to the window at `newStart` and runs the passes due by it,
        /// right after the packets processed at the old one.
        /// Preconditions: every worker waits at the barrier.
        func startWindow(at newStart: Int64) {
            let processedAt = start
            start = newStart
            end = windowEnd(from: start)
            windows += 1
            guard env.cfg.reaperEnabled else { return }
            if team != nil {
                if env.reaper.nextDueTime <= start { reapUpTo = start; reapObserved = processedAt }
            } else if env.reaper.nextDueTime <= start {
                // Checked first: a call takes the reaper's lock, and most
                // windows of a sparse capture have no pass due.
                env.reaper.runDue(upTo: start, observed: processedAt)
            }
        }

        /// Preconditions: every worker waits at the barrier.
        func endRun() {
            done = true
            roundOver = true
        }

        /// The leader's step after a round: its time counts once past warm-up.
        /// Preconditions: every worker waits at the barrier.
        func endRound() {
            if env.workers.reduce(0, { $0 + $1.processed }) > env.cfg.warmup {
                tableNanos += MonotonicClock.read() - roundStart
            }
        }

        /// After every worker joined: the passes due by the last packet run
        /// too, as in the deterministic driver.
        func finish() -> DriveResult {
            let end = env.workers.map(\.lastTimestamp).max() ?? 0
            if env.cfg.reaperEnabled { env.reaper.runDue(upTo: end) }
            var ctx = WorkerContext(name: "driver", checkLockOrder: env.cfg.checkLockOrder)
            env.table.reclaim(&ctx)
            // The workers' waits in the reaper team are theirs.
            if let team {
                for (i, w) in env.workers.enumerated() { w.waits.merge(team.waitStats(i)) }
            }
            return DriveResult(contexts: contexts.all(), tableNanos: tableNanos,
                               generationNanos: env.workers.map(\.generationNanos).max() ?? 0, livePeak: livePeak,
                               endTime: end, windows: windows)
        }

        /// `env.liveConnections(mergedStats())`, from the workers' nets.
        /// Preconditions: every worker waits at the barrier.
        func liveFromNets() -> Int64 {
            var net: Int64 = 0
            for i in 0..<slots.count { net &+= record(i)[Self.netField] }
            return env.liveConnections(workersCreatedLessRemoved: net)
        }

        /// The merged counters every worker published.
        func mergedStats() -> TableStats {
            var s = TableStats()
            for w in env.workers { s.merge(w.read()) }
            return s
        }

        /// The end of the window starting at `s`: one span of `window`, or,
        /// with `windowMinPackets`, as many spans as it takes for the window
        /// to hold that many packets of all workers together, up to
        /// `windowMaxNanos`. Sparse traffic then crosses the barrier once per
        /// thousands of packets instead of once per few, at the price of
        /// time resolution: a packet is processed up to the merged span
        /// before its own time. The span depends only on the packets (the
        /// lanes' buffers refill at the same packets in every run), so
        /// repeats merge alike. It stops growing where a lane's buffer ends
        /// before the source does (what follows is not known yet).
        /// Preconditions: every worker waits at the barrier.
        func windowEnd(from s: Int64) -> Int64 {
            var e = s + window
            let minPackets = env.cfg.windowMinPackets
            guard minPackets > 0 else { return e }
            let limit = s + max(window, env.cfg.windowMaxNanos)
            // Where each lane's count stopped: the spans are tried in order,
            // so each search goes on from the last.
            let reached = laneScratch
            for (l, lane) in lanes.enumerated() { reached[l] = lane.pos }
            while e + window <= limit {
                var n = 0
                for (l, lane) in lanes.enumerated() {
                    reached[l] = lane.firstIndex(atOrAfter: e, from: reached[l])
                    assert(reached[l] - lane.pos == lane.countBefore(e))
                    n += reached[l] - lane.pos
                    if !lane.exhausted, lane.count > 0, lane.buf[lane.count - 1].timestamp < e { return e }
                }
                if n >= minPackets { return e }
                e += window
            }
            return e
        }

        /// The start of the window that holds virtual time `t`.
        func windowFloor(_ t: Int64) -> Int64 { t - ((t % window) + window) % window }
    }
}
