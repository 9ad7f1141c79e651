import ConnTrack
import FlowGen
import Histogram
import Sync

/// The time series of a workload run: at the first boundary at or after
/// each `sampleSeconds` of virtual time it records the counters, the live
/// connections and the garbage (expired connections still linked, counted
/// by walking the table), the reaper's schedule and CPU, the latency of the
/// packets since the last sample, and the RSS; at the end it builds each
/// phase's figures from them. Its own wall time is taken out of the table
/// time (`monitorNanos`).
final class WorkloadMonitor<T: ConnTrackTable>: RunBoundaryHook, @unchecked Sendable {
    let env: RunEnvironment<T>
    let workload: Workload
    let timeScale: Double
    let interval: Int64
    let phaseStarts: [Int64]
    let phaseEnds: [Int64]
    // All owned by the thread calling the hooks (one at a time).
    private var nextSample: Int64 = 0
    private(set) var samples: [WorkloadReport.Sample] = []
    private var phaseLatency: [Histogram<UInt64>]
    private(set) var monitorNanos: Int64 = 0
    /// Taking the samples after the drive (not within its table time).
    private var trailingNanos: Int64 = 0
    /// The smallest share of the table a garbage count covered.
    private var sampledShare = 1.0
    private let wallStart = MonotonicClock.read()

    init(_ env: RunEnvironment<T>, workload: Workload, timeScale: Double, sampleNanos: Int64) {
        self.env = env
        self.workload = workload
        self.timeScale = timeScale
        interval = sampleNanos
        phaseStarts = workload.phaseStarts
        phaseEnds = zip(workload.phaseStarts, workload.phases).map { $0 + $1.duration }
        phaseLatency = workload.phases.map { _ in
            Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        }
        for w in env.workers { w.tracksIntervalLatency = true }
    }

    var dueTime: Int64? { nextSample <= workload.duration ? nextSample : nil }

    func atBoundary(_ b: RunBoundary) -> RunBoundary.Verdict {
        let reached = b.next ?? b.now
        guard nextSample <= reached, nextSample <= workload.duration else { return .proceed }
        let t0 = MonotonicClock.read()
        // One sample per interval passed (a window longer than the interval
        // gives several, with the same counters).
        while nextSample <= reached && nextSample <= workload.duration {
            take(at: nextSample, workerStats: b.workerStats)
            advance()
        }
        monitorNanos += MonotonicClock.read() - t0
        return .proceed
    }

    /// The next sample: one interval on, or the next phase's end if that
    /// comes first (every phase ends with a sample, however short).
    private func advance() {
        let next = nextSample + interval
        nextSample = phaseEnds.first { $0 > nextSample && $0 < next } ?? next
    }

    /// Preconditions: every worker waits at a boundary, or has finished.
    private func take(at t: Int64, workerStats: TableStats) {
        // The passes due by `t` first (the drivers run them after the
        // hooks, or not at all once the packets are over): a gap in the
        // traffic is a gap the reaper still works through.
        if env.cfg.reaperEnabled { env.reaper.runDue(upTo: t) }
        var s = workerStats
        let r = env.reaper.snapshot()
        s.merge(r.stats)
        // A sample closes the interval that ends at it: one at a phase's
        // end belongs to that phase (its packets were sent before).
        let phase = workload.phaseIndex(at: max(0, t - 1))
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for w in env.workers {
            latency.add(w.intervalLatency)
            w.intervalLatency.reset()
        }
        phaseLatency[phase].add(latency)
        let generation = env.workers.map(\.generationNanos).max() ?? 0
        let table = Double(MonotonicClock.read() - wallStart - monitorNanos - generation) / 1e9
        samples.append(WorkloadReport.Sample(
            virtualSeconds: Double(t) / 1e9, phase: phase, packets: s.packets, created: s.created,
            removed: s.removedInline &+ s.removedByReaper &+ s.removedOther, live: env.liveConnections(workerStats),
            garbage: garbage(at: t, live: env.liveConnections(workerStats)), insertFailed: s.insertFailed, drop: s.drop, earlyDrop: s.earlyDrop,
            reaperPasses: r.passes, reaperIntervalSeconds: Double(r.interval) / 1e9,
            reaperCPUSeconds: Double(r.totals.cpuNanos) / 1e9,
            latencyP99Nanos: latency.totalCount > 0 ? Double(latency.valueAtPercentile(99)) : 0,
            rssBytes: SoakMonitor<T>.residentBytes(), tableSeconds: max(0, table)))
    }

    /// Expired connections still linked at `t`: counted on every
    /// connection while the table is small, and on a sixteenth of it
    /// (scaled up; a different sixteenth at each sample) once it holds more
    /// than `exactUpTo`, where the design can split itself evenly: a walk of
    /// millions of connections every virtual second would take longer than
    /// the table work it measures.
    private func garbage(at t: Int64, live: Int64) -> Int {
        if live > Self.exactUpTo, let n = env.table.expiredCount(now: t, part: samples.count % Self.parts, of: Self.parts) {
            sampledShare = 1 / Double(Self.parts)
            return n * Self.parts
        }
        return env.table.expiredCount(now: t)
    }
    static var exactUpTo: Int64 { 1 << 18 }
    static var parts: Int { 16 }

    /// The samples after the last packet, to the workload's end, for a run
    /// that played it whole (`completed`: not stopped by a signal).
    /// Preconditions: the drive is over (every worker has finished), and
    /// the end-of-run checks have not run (their sweep would clear the
    /// garbage these samples count).
    func finishSamples(completed: Bool) {
        guard completed else { return }
        let t0 = MonotonicClock.read()
        var stats = TableStats()
        for w in env.workers { stats.merge(w.read()) }
        while nextSample <= workload.duration {
            take(at: nextSample, workerStats: stats)
            advance()
        }
        trailingNanos += MonotonicClock.read() - t0
    }

    /// The report: the series and each phase's figures.
    func report() -> WorkloadReport {
        var phases: [WorkloadReport.Phase] = []
        for (i, p) in workload.phases.enumerated() {
            let start = phaseStarts[i], end = start + p.duration
            let inPhase = samples.filter { $0.phase == i }
            // The figures at the phase's start: the last sample before it.
            let before = samples.last { $0.phase < i }
            let last = inPhase.last
            func delta<V: BinaryInteger>(_ k: KeyPath<WorkloadReport.Sample, V>) -> V {
                guard let last else { return 0 }
                return last[keyPath: k] - (before?[keyPath: k] ?? 0)
            }
            let seconds = Double(p.duration) / 1e9
            let tableSeconds = (last?.tableSeconds ?? 0) - (before?.tableSeconds ?? 0)
            let (recovery, at) = WorkloadReport.recovery(inPhase, phaseStart: Double(start) / 1e9)
            let recoveredAt = at.map { inPhase[$0] } ?? before
            let h = phaseLatency[i]
            phases.append(WorkloadReport.Phase(
                name: p.name, startSeconds: Double(start) / 1e9, endSeconds: Double(end) / 1e9,
                packets: delta(\.packets), packetsPerSecond: tableSeconds > 0 ? Double(delta(\.packets)) / tableSeconds : 0,
                setupsPerSecond: Double(delta(\.created)) / seconds, teardownsPerSecond: Double(delta(\.removed)) / seconds,
                latencyP99Nanos: h.totalCount > 0 ? Double(h.valueAtPercentile(99)) : 0,
                latencyP999Nanos: h.totalCount > 0 ? Double(h.valueAtPercentile(99.9)) : 0,
                liveAtEnd: last?.live ?? 0, livePeak: inPhase.map(\.live).max() ?? 0,
                garbagePeak: inPhase.map(\.garbage).max() ?? 0,
                insertFailed: delta(\.insertFailed), drop: delta(\.drop), earlyDrop: delta(\.earlyDrop),
                reaperPasses: delta(\.reaperPasses),
                reaperIntervalSeconds: inPhase.isEmpty ? 0 : inPhase.reduce(0) { $0 + $1.reaperIntervalSeconds } / Double(inPhase.count),
                reaperCPUSeconds: (last?.reaperCPUSeconds ?? 0) - (before?.reaperCPUSeconds ?? 0),
                rssPeakBytes: inPhase.map(\.rssBytes).max() ?? 0,
                recoverySeconds: recovery,
                recoveryReaperCPUSeconds: (recoveredAt?.reaperCPUSeconds ?? 0) - (before?.reaperCPUSeconds ?? 0)))
        }
        return WorkloadReport(name: workload.name, summary: workload.summary, timeScale: timeScale,
                              sampleSeconds: Double(interval) / 1e9, monitorSeconds: Double(monitorNanos + trailingNanos) / 1e9,
                              garbageSampledShare: sampledShare, garbageExactUpTo: Int(Self.exactUpTo),
                              phases: phases, series: samples)
    }
}
