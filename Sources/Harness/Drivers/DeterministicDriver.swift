import ConnTrack
import Sync

/// One worker, packets in stream order, reaper passes inline at their due
/// times: the report (except wall-clock fields) is a pure function of the
/// options and seeds.
enum DeterministicDriver: PacketDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> DriveResult {
        let cfg = env.cfg
        let worker = env.workers[0]
        var ctx = env.makeContext(0)
        let slot = env.table.registerWorker()
        let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: cfg.chunk)
        let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
        defer { buf.deallocate(); latencies.deallocate() }
        var result = DriveResult(contexts: [], tableNanos: 0, generationNanos: 0, livePeak: 0, endTime: 0)
        var processed = 0
        var saveAt = cfg.saveAt
        while StopSignal.requested == nil {
            let g0 = MonotonicClock.read()
            let n = env.sources.fill(0, buf)
            result.generationNanos += MonotonicClock.read() - g0
            if n == 0 { break }
            let t0 = MonotonicClock.read()
            var done = 0
            if let t = saveAt {
                // Up to the first packet at or after t; the save, then the rest.
                done = env.process(UnsafeBufferPointer(rebasing: buf[0..<n]), worker: worker, slot: slot,
                                   latencies: latencies, inlineReaper: cfg.reaperEnabled, until: t, &ctx)
                if done < n && StopSignal.requested == nil {
                    env.save(at: worker.lastTimestamp, workerStats: ctx.stats, livePeak: worker.livePeak)
                    saveAt = nil
                }
            }
            env.process(UnsafeBufferPointer(rebasing: buf[done..<n]), worker: worker, slot: slot, latencies: latencies,
                        inlineReaper: cfg.reaperEnabled, &ctx)
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
}
