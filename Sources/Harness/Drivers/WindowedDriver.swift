import ConnTrack
import Dispatch
import Sync
import struct Synchronization.Atomic

/// Multi-worker virtual-time runs in lock-step windows of `window` ns of
/// virtual time. Every worker processes the packets of window [T, T+W) at
/// virtual time T, so workers never drift apart and all of them, and the
/// reaper, judge expiry against the same "now". Between windows the workers
/// wait while the leader runs the reaper's passes due by the next window's
/// start (each at its due time). Generation happens between rounds,
/// untimed, as in the free-running driver; a round ends when some worker's
/// buffer cannot complete the current window, and the window continues
/// after the refill.
///
/// What stays order-dependent is the interleaving of different workers'
/// operations on the same bucket inside one window (see README,
/// "Determinism").
enum WindowedDriver: PacketDriver {
    /// One worker's buffer and position, owned by that worker; read by the
    /// leader inside barrier actions (the barrier orders the accesses).
    final class Lane: @unchecked Sendable {
        let buf: UnsafeMutableBufferPointer<Packet>
        var count = 0
        var pos = 0
        var exhausted = false
        init(capacity: Int) { buf = .allocate(capacity: capacity) }
        deinit { buf.deallocate() }
        var next: Int64? { pos < count ? buf[pos].timestamp : nil }
        /// Drained, but the source has more.
        var needsRefill: Bool { pos == count && !exhausted }
    }

    /// Shared by the workers; written only by the leader in barrier actions.
    final class Clock: @unchecked Sendable {
        var start: Int64 = 0
        var done = false
        var roundOver = false
        var roundStart: Int64 = 0
        var tableNanos: Int64 = 0
        var windows = 0
        /// The most live connections at a window boundary.
        var livePeak: Int64 = 0
        /// The `saveAt` save was taken.
        var saved = false
    }

    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> DriveResult {
        let cfg = env.cfg
        let w = cfg.windowNanos
        precondition(w > 0, "the windowed driver needs a window")
        let threads = env.workers.count
        let table = env.table
        let workers = env.workers
        let slots = (0..<threads).map { _ in table.registerWorker() }
        let lanes = (0..<threads).map { _ in Lane(capacity: cfg.chunk) }
        let barrier = Barrier(parties: threads)
        let clock = Clock()
        let group = DispatchGroup()
        let contexts = ContextBox(threads)
        let floorW: @Sendable (Int64) -> Int64 = { t in t - ((t % w) + w) % w }
        let soak = cfg.soak.map { SoakMonitor($0, env) }

        /// The leader's step between windows. Preconditions: every worker
        /// waits at the barrier.
        @Sendable func advance() {
            // Every worker published its counters after its last batch of
            // the window: live is exact here.
            var s = TableStats()
            for w in workers { s.merge(w.read()) }
            clock.livePeak = max(clock.livePeak, env.liveConnections(s))
            if StopSignal.requested != nil { clock.done = true; clock.roundOver = true; return }
            // A soak checks (and may stop) while every worker waits here.
            if let soak, soak.step(virtualNow: clock.start) { clock.done = true; clock.roundOver = true; return }
            if lanes.contains(where: \.needsRefill) { clock.roundOver = true; return }
            guard let next = lanes.compactMap(\.next).min() else {
                clock.done = true; clock.roundOver = true; return
            }
            // Skip empty windows; run the passes due by the new start, right
            // after the packets processed at the old one.
            let processedAt = clock.start
            let newStart = max(clock.start + w, floorW(next))
            // A save at a window boundary: every packet before the window
            // that reaches the save time is in the table.
            if let t = cfg.saveAt, !clock.saved, newStart >= t {
                clock.saved = true
                env.save(at: processedAt, workerStats: s, livePeak: clock.livePeak)
            }
            clock.start = newStart
            clock.windows += 1
            if cfg.reaperEnabled { env.reaper.runDue(upTo: clock.start, observed: processedAt) }
        }

        for i in 0..<threads {
            let q = DispatchQueue(label: "conntrack-bench.worker-\(i)")
            group.enter()
            q.async {
                var ctx = env.makeContext(i)
                let lane = lanes[i]
                let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
                var first = true
                while true {
                    // Refill (untimed): keep the unprocessed tail, top up.
                    table.workerOffline(slots[i])
                    if !lane.exhausted {
                        let tail = lane.count - lane.pos
                        if lane.pos > 0 && tail > 0 {
                            // The ranges overlap when the tail is longer than
                            // the consumed prefix: a move allows that.
                            let base = lane.buf.baseAddress!
                            base.moveInitialize(from: base + lane.pos, count: tail)
                        }
                        lane.pos = 0
                        lane.count = tail
                        let g0 = MonotonicClock.read()
                        let n = env.sources.fill(i, UnsafeMutableBufferPointer(rebasing: lane.buf[tail..<lane.buf.count]))
                        workers[i].generationNanos += MonotonicClock.read() - g0
                        lane.count += n
                        if n == 0 { lane.exhausted = true }
                    }
                    barrier.wait {
                        if first {
                            // The first window starts where the earliest packet is.
                            if let t0 = lanes.compactMap(\.next).min() {
                                clock.start = floorW(t0)
                                if cfg.reaperEnabled { env.reaper.runDue(upTo: clock.start) }
                            } else {
                                clock.done = true
                            }
                        }
                        clock.roundOver = false
                        clock.roundStart = MonotonicClock.read()
                    }
                    first = false
                    if clock.done { break }
                    table.workerQuiescent(slots[i])
                    // Windows until a lane cannot complete one.
                    while !clock.roundOver {
                        if lane.pos < lane.count {
                            let chunk = UnsafeBufferPointer(rebasing: lane.buf[lane.pos..<lane.count])
                            // Thread CPU time (two system calls) on one window in eight.
                            lane.pos += env.processWindow(chunk, start: clock.start, end: clock.start + w,
                                                          worker: workers[i], slot: slots[i], latencies: latencies,
                                                          accountCPU: clock.windows & 7 == 0, &ctx)
                        }
                        barrier.wait { advance() }
                    }
                    barrier.wait {
                        if workers.reduce(0, { $0 + $1.processed }) > cfg.warmup {
                            clock.tableNanos += MonotonicClock.read() - clock.roundStart
                        }
                    }
                }
                workers[i].finished.store(true, ordering: .releasing)
                latencies.deallocate()
                contexts.set(i, ctx)
                group.leave()
            }
        }
        group.wait()
        let end = workers.map(\.lastTimestamp).max() ?? 0
        // Passes due by the last packet run too, as in the deterministic driver.
        if cfg.reaperEnabled { env.reaper.runDue(upTo: end) }
        var ctx = WorkerContext(name: "driver", checkLockOrder: cfg.checkLockOrder)
        table.reclaim(&ctx)
        return DriveResult(contexts: contexts.all(), tableNanos: clock.tableNanos,
                           generationNanos: workers.map(\.generationNanos).max() ?? 0, livePeak: clock.livePeak, endTime: end,
                           windows: clock.windows, soak: soak?.report)
    }
}
