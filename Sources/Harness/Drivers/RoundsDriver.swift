import ConnTrack
import Dispatch
import Sync
import struct Synchronization.Atomic

/// Dispatch workers in barrier-synchronised rounds: each round every worker
/// generates its next chunk (untimed), then all process their chunks
/// together (timed from the start barrier to the last worker's finish),
/// with the reaper on its own thread. Used for real clocks, and for
/// virtual time only when lock-step windows are off (`--window-ms 0`):
/// then workers drift apart in virtual time and the counters depend on
/// scheduling. It calls no boundary hooks: with the reaper on its own
/// thread, no point of the run has the table quiescent.
enum RoundsDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> DriveResult {
        let cfg = env.cfg
        let threads = env.workers.count
        let table = env.table
        let workers = env.workers
        let slots = (0..<threads).map { _ in table.registerWorker() }
        let barrier = Barrier(parties: threads, spinNanos: cfg.waitSpinNanos)
        let roundNanos = Atomic<Int64>(0)
        let roundStart = Atomic<Int64>(0)
        let anyLeft = Atomic<Int>(0)
        let group = DispatchGroup()
        let contexts = ContextBox(threads)
        if cfg.reaperEnabled {
            if cfg.clock != .virtual {
                env.reaper.start(realTime: true, now: { MonotonicClock.read() })
            } else {
                // Time the slowest unfinished worker has reached.
                env.reaper.start(realTime: false, now: { virtualNow(workers) })
            }
        }
        for w in 0..<threads {
            let q = DispatchQueue(label: "conntrack-bench.worker-\(w)")
            group.enter()
            q.async {
                workers[w].beginThreadAccounting()
                var ctx = env.makeContext(w)
                let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: cfg.chunk)
                let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
                var processed = 0
                var waiter = Waiter()
                while true {
                    table.workerOffline(slots[w])
                    let g0 = MonotonicClock.read()
                    let n = StopSignal.requested == nil ? env.fill(w, buf) : 0
                    workers[w].generationNanos += MonotonicClock.read() - g0
                    if n > 0 { anyLeft.add(1, ordering: .relaxed) }
                    if barrier.wait(&waiter) { roundStart.store(MonotonicClock.read(), ordering: .relaxed) }
                    barrier.wait(&waiter)
                    if anyLeft.load(ordering: .relaxed) == 0 { break }
                    table.workerQuiescent(slots[w])
                    env.process(UnsafeBufferPointer(rebasing: buf[0..<n]), worker: workers[w], slot: slots[w],
                                latencies: latencies, inlineReaper: false, &ctx)
                    processed += n
                    table.workerOffline(slots[w])
                    if barrier.wait(&waiter) {
                        if processed > cfg.warmup {
                            roundNanos.add(MonotonicClock.read() - roundStart.load(ordering: .relaxed), ordering: .relaxed)
                        }
                        anyLeft.store(0, ordering: .relaxed)
                    }
                    barrier.wait(&waiter)
                }
                workers[w].waits = waiter.stats
                workers[w].endThreadAccounting()
                workers[w].finished.store(true, ordering: .releasing)
                buf.deallocate()
                latencies.deallocate()
                contexts.set(w, ctx)
                group.leave()
            }
        }
        group.wait()
        env.reaper.stop()
        var ctx = WorkerContext(name: "driver", checkLockOrder: cfg.checkLockOrder)
        table.reclaim(&ctx)
        return DriveResult(contexts: contexts.all(), tableNanos: roundNanos.load(ordering: .relaxed),
                           generationNanos: workers.map(\.generationNanos).max() ?? 0, livePeak: 0,
                           endTime: cfg.clock != .virtual ? MonotonicClock.read() : workers.map(\.lastTimestamp).max() ?? 0)
    }

    /// Virtual time of a concurrent run: the minimum over unfinished
    /// workers, or the maximum once all have finished.
    static func virtualNow(_ workers: [WorkerShared]) -> Int64 {
        var lo = Int64.max, hi = Int64.min
        for w in workers {
            let t = w.virtualNow.load(ordering: .relaxed)
            hi = max(hi, t)
            if !w.finished.load(ordering: .acquiring) { lo = min(lo, t) }
        }
        return lo == Int64.max ? hi : lo
    }
}
