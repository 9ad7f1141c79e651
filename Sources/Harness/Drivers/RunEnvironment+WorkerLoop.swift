import ConnTrack
import Sync

// The worker loop every driver runs: the table processes packets in
// batches, with a quiescent point and a published snapshot between them.
extension RunEnvironment {
    /// Processes `packets` in batches, up to (not including) the first
    /// packet whose timestamp is at or after `until`; returns how many it
    /// processed. After each batch the worker is at a quiescent point: it
    /// announces it and publishes its virtual time, progress and counters.
    /// With `inlineReaper`, a batch stops before the first packet at or
    /// after the reaper's due time and the due passes run first, exactly as
    /// if the reaper ran before every packet. With `frozenNow`, every packet
    /// is processed at that virtual time (a lock-step window's start).
    /// `accountCPU` reads the thread's CPU time around the call (two
    /// system calls); the windowed driver asks for it on one window in
    /// eight, so the share of CPU while busy is measured on a sample.
    @discardableResult
    func process(_ packets: UnsafeBufferPointer<Packet>, worker: WorkerShared, slot: Int,
                 latencies: UnsafeMutableBufferPointer<UInt64>, inlineReaper: Bool,
                 frozenNow: Int64? = nil, until: Int64 = .max, accountCPU: Bool = true,
                 _ ctx: inout WorkerContext) -> Int {
        let t0 = MonotonicClock.read(), c0 = accountCPU ? threadCPUNanos() : 0
        var b = PacketBatch(packets: packets, clock: cfg.clock, sampleEvery: cfg.latencySampleEvery, latencies: latencies)
        if worker.sampleCountdown > 0 { b.countdown = worker.sampleCountdown }
        defer { worker.sampleCountdown = b.countdown }
        b.frozenNow = frozenNow
        b.stopAtOrAfter = inlineReaper ? min(until, reaper.nextDueTime) : until
        var reachedUntil = false
        // One worker with the reaper inline: the exact live peak is its own
        // running peak less the reaper's removals, folded before each pass.
        let exactPeak = cfg.deterministic
        var reaped = exactPeak ? Int64(reaper.removedSoFar) : 0
        if exactPeak { ctx.resetNetPeak() }
        // A stop signal is honoured between batches.
        while b.position < packets.count && !reachedUntil && StopSignal.requested == nil {
            let first = b.position
            b.next(size: cfg.batch, upTo: packets.count)
            while true {
                let segment = b.position
                table.processBatch(&b, &ctx)
                // A summary the reaper kept over the last gap stays true.
                if inlineReaper { reaper.noteProcessed(UnsafeBufferPointer(rebasing: packets[segment..<b.position])) }
                if b.position == b.end { break }
                let ts = packets[b.position].timestamp
                if ts >= until { reachedUntil = true; break }
                // The passes run before any packet at or after their due
                // time: on time as far as the table can tell, however long
                // the gap before `ts` (their lag is measured from the last
                // packet processed).
                let last = b.position > 0 ? packets[b.position - 1].timestamp : worker.lastTimestamp
                if exactPeak { worker.livePeak = max(worker.livePeak, ctx.netPeak - reaped) }
                reaper.runDue(upTo: ts, observed: last, keepSummary: true)
                if exactPeak { reaped = Int64(reaper.removedSoFar); ctx.resetNetPeak() }
                b.stopAtOrAfter = min(until, reaper.nextDueTime)
            }
            guard b.position > first else { break }
            for k in 0..<b.latencyCount { worker.latency.record(latencies[k]) }
            if worker.tracksIntervalLatency {
                for k in 0..<b.latencyCount { worker.intervalLatency.record(latencies[k]) }
            }
            // Operations scheduled (`--op`): the batch's end and samples, for
            // the figures around each operation.
            if let tl = worker.timeline {
                tl.noteBatch(time: MonotonicClock.read(), count: b.position - first, samples: latencies, sampleCount: b.latencyCount)
            }
            // Between batches: no connection reference is held.
            table.workerQuiescent(slot)
            worker.virtualNow.store(frozenNow ?? packets[b.position - 1].timestamp, ordering: .relaxed)
            worker.watch.progress.add(UInt64(b.position - first), ordering: .relaxed)
            worker.publish(ctx.stats)
        }
        if exactPeak { worker.livePeak = max(worker.livePeak, ctx.netPeak - reaped) }
        worker.processed += b.position
        if b.position > 0 { worker.lastTimestamp = packets[b.position - 1].timestamp }
        let busy = MonotonicClock.read() - t0
        worker.busyNanos += busy
        if accountCPU {
            worker.cpuNanos += threadCPUNanos() - c0
            worker.cpuMeasuredBusyNanos += busy
        }
        return b.position
    }

    /// Processes the packets of one lock-step window [start, end) at
    /// virtual time `start`.
    func processWindow(_ packets: UnsafeBufferPointer<Packet>, start: Int64, end: Int64, worker: WorkerShared, slot: Int,
                       latencies: UnsafeMutableBufferPointer<UInt64>, accountCPU: Bool, _ ctx: inout WorkerContext) -> Int {
        process(packets, worker: worker, slot: slot, latencies: latencies, inlineReaper: false,
                frozenNow: start, until: end, accountCPU: accountCPU, &ctx)
    }
}
