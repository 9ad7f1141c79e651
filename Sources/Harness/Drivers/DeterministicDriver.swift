import ConnTrack
import Sync

/// One worker, packets in stream order, reaper passes inline at their due
/// times: the report (except wall-clock fields) is a pure function of the
/// options and seeds. It has no regular boundaries: it pauses for the hooks
/// only before the first packet at or after a hook's due time.
enum DeterministicDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>, hooks: BoundaryHooks) -> DriveResult {
        let cfg = env.cfg
        let worker = env.workers[0]
        worker.beginThreadAccounting()
        defer { worker.endThreadAccounting() }
        var ctx = env.makeContext(0)
        let slot = env.table.registerWorker()
        let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: cfg.chunk)
        let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
        defer { buf.deallocate(); latencies.deallocate() }
        var result = DriveResult(contexts: [], tableNanos: 0, generationNanos: 0, livePeak: 0, endTime: 0)
        var processed = 0
        var stopped = false
        while StopSignal.requested == nil && !stopped {
            let g0 = MonotonicClock.read()
            let n = env.fill(0, buf)
            result.generationNanos += MonotonicClock.read() - g0
            if n == 0 { break }
            let t0 = MonotonicClock.read()
            var done = 0
            while !stopped, let due = hooks.dueTime {
                // Up to the first packet at or after the due time; the hooks, then the rest.
                done += env.process(UnsafeBufferPointer(rebasing: buf[done..<n]), worker: worker, slot: slot,
                                    latencies: latencies, inlineReaper: cfg.reaperEnabled, until: due, &ctx)
                guard done < n && StopSignal.requested == nil else { break }
                stopped = atBoundary(hooks, next: buf[done].timestamp, worker: worker, stats: ctx.stats) == .stop
            }
            if !stopped {
                env.process(UnsafeBufferPointer(rebasing: buf[done..<n]), worker: worker, slot: slot,
                            latencies: latencies, inlineReaper: cfg.reaperEnabled, &ctx)
            }
            env.table.reclaim(&ctx)
            if processed >= cfg.warmup { result.tableNanos += MonotonicClock.read() - t0 }
            processed += n
        }
        // The exact peak `process` keeps (it only grows).
        result.livePeak = worker.livePeak
        env.table.workerOffline(slot)
        worker.virtualNow.store(worker.lastTimestamp, ordering: .relaxed)
        worker.finished.store(true, ordering: .releasing)
        result.contexts = [ctx]
        result.endTime = worker.lastTimestamp
        return result
    }

    /// Calls the hooks before the packet at `next`: the worker is between
    /// batches, and the reaper (inline) between passes.
    static func atBoundary(_ hooks: BoundaryHooks, next: Int64, worker: WorkerShared,
                           stats: TableStats) -> RunBoundary.Verdict {
        let verdict = hooks.atBoundary(RunBoundary(now: worker.lastTimestamp, next: next,
                                                   workerStats: stats, livePeak: worker.livePeak))
        // Otherwise the driver would pause at the same packet again.
        precondition(hooks.dueTime.map { $0 > next } ?? true, "a boundary hook's due time must move past the boundary")
        return verdict
    }
}
