import ConnTrack
import Sync

/// The one time-series collector: every `sampleSeconds` of wall time it
/// merges the workers' published counters with the reaper's, records a
/// `Sample` (kept in `RunReport.timeSeries`) and hands it to the progress
/// callback.
final class Sampler<T: ConnTrackTable>: @unchecked Sendable {
    let env: RunEnvironment<T>
    let totalPackets: Int
    /// A workload's length: progress goes by virtual time instead.
    let totalVirtual: Int64?
    let wallStart: Int64
    /// Stops the thread; it sleeps on it between samples.
    let done = StopLatch()
    let mutex = HeapMutex()
    /// protected by mutex
    private var samples: [Sample] = []
    /// owned by the controlling thread
    private var thread: OSThread?

    init(_ env: RunEnvironment<T>, totalPackets: Int, totalVirtual: Int64? = nil, wallStart: Int64) {
        self.env = env; self.totalPackets = totalPackets; self.totalVirtual = totalVirtual; self.wallStart = wallStart
    }

    func start() {
        guard env.cfg.sampleSeconds > 0 else { return }
        thread = OSThread { [self] in
            var lastPackets: UInt64 = 0
            var lastT = MonotonicClock.read()
            // At least one sample, however short the run: the last is
            // taken after `stop`, at the end state.
            let interval = Int64(env.cfg.sampleSeconds * 1e9)
            repeat {
                // Woken by `stop` at once, not polled: a thread waking
                // beside busy workers preempts one.
                done.sleep(until: lastT + interval)
                let now = MonotonicClock.read()
                let s = sample(now: now, lastPackets: lastPackets, lastT: lastT)
                mutex.withLock { samples.append(s) }
                env.cfg.progress?(s)
                lastPackets = s.packets
                lastT = now
            } while !done.isStopped
        }
    }

    private func sample(now: Int64, lastPackets: UInt64, lastT: Int64) -> Sample {
        var s = TableStats()
        for w in env.workers { s.merge(w.read()) }
        let r = env.reaper.snapshot()
        s.merge(r.stats)
        let vnow = env.cfg.clock != .virtual ? now - env.startTime : RoundsDriver.virtualNow(env.workers)
        let last = r.history.last
        return Sample(
            wallSeconds: Double(now - wallStart) / 1e9, virtualSeconds: Double(vnow) / 1e9,
            packets: s.packets, pps: Double(s.packets &- lastPackets) / max(1e-9, Double(now - lastT) / 1e9),
            live: s.createdLessRemoved &- env.operationActivity.removedSoFar, reaperInterval: Double(r.interval) / 1e9,
            expiredRatio: last.map { $0.checked > 0 ? Double($0.expired) / Double($0.checked) : 0 } ?? 0,
            contendedPerMillion: Contention.percent(s) * 1e4,
            fractionDone: totalVirtual.map { min(1, Double(vnow) / Double(max(1, $0))) }
                ?? Double(s.packets) / Double(max(1, totalPackets)),
            phase: phase())
    }

    /// "read" or "generate" while any worker fills its buffer, else "table".
    private func phase() -> String {
        guard env.workers.contains(where: { $0.filling.load(ordering: .relaxed) }) else { return "table" }
        if case .capture = env.cfg.source { return "read" }
        return "generate"
    }

    /// Stops the thread and returns the series.
    func stop() -> [Sample] {
        done.stop()
        thread?.join()
        thread = nil
        return mutex.withLock { samples }
    }
}
