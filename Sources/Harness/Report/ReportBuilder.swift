import CAllocStats
import ConnTrack
import Histogram
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// Assembles a `RunReport` from what the rooms of a run produced.
enum ReportBuilder {
    static func dist(_ values: [Double]) -> Distribution {
        guard !values.isEmpty else { return Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0) }
        let v = values.sorted()
        // Nearest-rank percentile.
        func pct(_ p: Double) -> Double {
            let rank = Int((Double(v.count) * p / 100).rounded(.up))
            return v[min(v.count - 1, max(0, rank - 1))]
        }
        return Distribution(count: UInt64(v.count), p50: pct(50), p99: pct(99), max: v.last!, mean: v.reduce(0, +) / Double(v.count))
    }

    /// A worker whose CPU share while busy is below this is starved.
    static let starvedBelow = 0.80
    /// Only a worker busy this long is judged starved: its share is measured
    /// on one window in eight, and under 50 ms of busy time that is a few
    /// samples, mostly start-up (page faults of a table still growing).
    static let starvedJudgedFromBusySeconds = 0.05

    static func build<T: ConnTrackTable>(_ env: RunEnvironment<T>, drive: DriveResult, inspection: TableInspection,
                                         checks: EndOfRunChecks, samples: [Sample], wallNanos: Int64,
                                         usage: (ProcessUsage, ProcessUsage), tableHeapBytes: Int) -> RunReport {
        let cfg = env.cfg
        let table = env.table
        var s = TableStats()
        for c in drive.contexts { s.merge(c.stats) }
        let r = env.reaper.snapshot()
        var all = s
        all.merge(r.stats)
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for w in env.workers { latency.add(w.latency) }
        let lengths = inspection.slotLengths
        let hottest = inspection.hottestStripes(5).map { [UInt64($0.index), $0.contended] }
        var allocated = 0, active = 0, resident = 0
        let isJemalloc = ct_alloc_stats(&allocated, &active, &resident) == 1
        let live = all.createdLessRemoved
        let (u0, u1) = usage
        let memory = MemoryReport(
            allocator: isJemalloc ? "jemalloc" : "glibc", allocatedBytes: allocated, activeBytes: active,
            residentBytes: resident, fragmentation: active > 0 ? 1 - Double(allocated) / Double(active) : 0,
            peakRSSBytes: u1.peakRSSBytes, tableHeapBytes: tableHeapBytes,
            bytesPerConnection: inspection.connections > 0 ? Double(tableHeapBytes) / Double(inspection.connections) : nil)
        let cpu = cpuReport(env, u0, u1, reaperCPU: r.totals.cpuNanos, contexts: drive.contexts)
        let health = cfg.reaperEnabled ? reaperHealth(env.reaper, r, end: drive.endTime) : nil
        var warnings: [String] = (cpu.flags ?? []).map(\.reason)
        if cpu.starved {
            let worst = cpu.workers.map(\.cpuShareWhileBusy).min() ?? 0
            warnings.append("starved: a worker got \(Int((worst * 100).rounded())) % of a CPU while it was runnable (busy, not waiting for a lock; below \(Int(starvedBelow * 100)) %); CPUs utilised \(ReportFormatter.f(cpu.cpusUtilized)) for \(drive.contexts.count) worker(s): throughput and latency figures understate the design")
        }
        if let h = health, h.flagged {
            warnings.append("reaper behind: \(h.passesLate) of \(h.passesDue) due passes ran more than one interval late and \(h.passesDue - h.passesRun) did not run (\(Int((h.behindShare * 100).rounded())) % > \(Int(h.behindLimit * 100)) %): expired connections were kept longer than the policy intends")
        }
        let results = Dictionary(uniqueKeysWithValues: TrackerResult.allCases.map {
            (ReportFormatter.trackerKey($0), s.trackerResults[Int($0.rawValue)])
        })
        let chain = s.chain
        let tableSec = Double(drive.tableNanos) / 1e9
        let perWorker = cpu.workers.map(\.packetsPerBusySecond)
        let samplePeak = samples.map(\.live).max() ?? 0
        let violations = (drive.contexts.flatMap { $0.locks.violations } + env.reaper.violations).map(\.description)
        let traits = T.traits
        let source: SourceReport
        switch cfg.source {
        case .scenario:
            source = SourceReport(kind: "scenario", scenario: cfg.scenario.scenario.rawValue, flows: cfg.scenario.flows,
                                  flowSeed: cfg.scenario.seed)
        case .workload(let w, let scale):
            source = SourceReport(kind: "workload", flowSeed: cfg.scenario.seed, workload: w.name, timeScale: scale)
        case .capture(let file, let st):
            source = SourceReport(kind: "pcap", flows: st.flows, file: file, recordsRead: st.records, packetsUsed: st.used,
                                  skipped: ["non-IP": st.skippedNotIP, "fragment": st.skippedFragment,
                                            "other protocol": st.skippedProtocol, "malformed": st.skippedMalformed,
                                            "other pcapng blocks": st.skippedBlocks],
                                  outOfOrder: st.outOfOrder)
        }
        return RunReport(
            design: traits.name, variant: traits.label(cfg.table.variant),
            scenario: source.scenario, buckets: table.sweepSlots, slotName: traits.slotName,
            threads: drive.contexts.count, clock: cfg.clock.rawValue, deterministic: cfg.deterministic,
            hashSeed: table.hashSeed, flowSeed: source.flowSeed, source: source,
            policy: cfg.reaperEnabled ? cfg.policy.name : "off", faults: cfg.table.faults.map(\.rawValue).sorted(),
            packets: s.packets, tableSeconds: tableSec, generationSeconds: Double(drive.generationNanos) / 1e9,
            wallSeconds: Double(wallNanos) / 1e9, packetsPerSecond: tableSec > 0 ? Double(s.packets) / tableSec : 0,
            perWorkerPacketsPerSecond: perWorker, virtualSeconds: Double(drive.endTime) / 1e9,
            lookups: s.lookups, found: s.found, notFound: s.notFound, insert: s.insert, insertClash: s.insertClash,
            insertFailed: s.insertFailed, drop: s.drop, earlyDrop: s.earlyDrop, searchRestart: s.searchRestart,
            chainTooLong: s.chainTooLong, invalid: s.invalid,
            created: s.created, removedInline: all.removedInline, removedByReaper: all.removedByReaper,
            removedOther: all.removedOther, deferredByLockOrder: all.deferredByLockOrder,
            live: live, livePeak: inspection.peakConnections.map { max(Int64($0), drive.livePeak) } ?? max(samplePeak, drive.livePeak, live),
            tuplesAtEnd: checks.invariants.tuples, expiredStillLinkedAtEnd: checks.expiredAtEnd,
            expiredSurvivingFullSweep: checks.survivingFullSweep,
            trackerInit: s.trackerInit, trackerResults: results,
            chainWalked: Distribution(count: chain.samples, p50: Double(chain.percentile(50)), p99: Double(chain.percentile(99)),
                                      max: Double(chain.max), mean: chain.samples > 0 ? Double(chain.total) / Double(chain.samples) : 0),
            occupancyAtEnd: dist(lengths.map(Double.init)), emptyBucketsAtEnd: lengths.filter { $0 == 0 }.count,
            bucketLocks: LockReport(all.bucketLock), connectionLocks: LockReport(all.connLock), tableLock: LockReport(all.tableLock),
            hottestBuckets: hottest,
            reaperPasses: r.passes, reaperChecked: r.totals.checked, reaperExpired: r.totals.expired,
            reaperIntervalsMillis: r.history.map { Double($0.interval) / 1e6 },
            reaperPauseMicros: dist(r.history.map { Double($0.durationNanos) / 1e3 }),
            reaperBusySeconds: Double(r.totals.busyNanos) / 1e9,
            latencyNanos: latency.totalCount > 0
                ? Distribution(count: latency.totalCount, p50: Double(latency.valueAtPercentile(50)), p99: Double(latency.valueAtPercentile(99)),
                               max: Double(latency.max), mean: latency.mean)
                : Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0),
            latencySampleEvery: cfg.latencySampleEvery,
            counterOverheadNote: "counters are plain increments in a per-worker struct, published once per batch under a per-worker mutex; their cost has not been measured separately yet",
            reaperHealth: health, cpu: cpu, memory: memory, warnings: warnings,
            determinism: DeterminismReport.of(cfg, windows: drive.windows),
            interrupted: StopSignal.requested.map(StopSignal.name), soak: drive.soak,
            invariants: checks.invariants, lockOrderViolations: violations, timeSeries: samples)
    }

    static func cpuReport<T: ConnTrackTable>(_ env: RunEnvironment<T>, _ u0: ProcessUsage, _ u1: ProcessUsage,
                                             reaperCPU: Int64, contexts: [WorkerContext]) -> CPUReport {
        let workers = env.workers.enumerated().map { i, w -> CPUReport.Worker in
            let busy = Double(w.busyNanos) / 1e9
            // Time blocked on a contended lock is the design's, not the
            // machine's: it is taken out of the busy time before the share is
            // judged (global-lock workers sleep on the one mutex).
            let s = i < contexts.count ? contexts[i].stats : TableStats()
            let wait = Double(s.bucketLock.waitNanos &+ s.connLock.waitNanos &+ s.tableLock.waitNanos) / 1e9
            let waitShare = busy > 0 ? min(0.99, wait / busy) : 0
            // The share is measured on the calls that read CPU time; the CPU
            // seconds are scaled from it to the whole busy time.
            let cpuShare = w.cpuMeasuredBusyNanos > 0 ? min(1, Double(w.cpuNanos) / Double(w.cpuMeasuredBusyNanos)) : 1
            return CPUReport.Worker(packets: w.processed, busySeconds: busy, cpuSeconds: busy * cpuShare,
                                    lockWaitSeconds: wait,
                                    packetsPerBusySecond: busy > 0 ? Double(w.processed) / busy : 0,
                                    cpuShareWhileBusy: min(1, cpuShare / (1 - waitShare)),
                                    waits: w.waits.waits, parkedWaits: w.waits.parks, shortSpinWaits: w.waits.contendedWaits,
                                    waitSpinSeconds: Double(w.waits.spinNanos) / 1e9,
                                    waitParkedSeconds: Double(w.waits.parkedNanos) / 1e9,
                                    onCPUSeconds: w.sched.map { Double($0.onCPUNanos) / 1e9 },
                                    runQueueSeconds: w.sched.map { Double($0.runQueueNanos) / 1e9 })
        }
        let wall = Double(u1.wallNanos - u0.wallNanos) / 1e9
        let proc = Double(u1.cpuNanos - u0.cpuNanos) / 1e9
        let judged = workers.filter { $0.busySeconds >= starvedJudgedFromBusySeconds }
        var report = CPUReport(workers: workers, reaperCPUSeconds: Double(reaperCPU) / 1e9, processCPUSeconds: proc,
                               phaseWallSeconds: wall, cpusUtilized: wall > 0 ? proc / wall : 0,
                               voluntaryContextSwitches: u1.voluntarySwitches - u0.voluntarySwitches,
                               involuntaryContextSwitches: u1.involuntarySwitches - u0.involuntarySwitches,
                               starved: judged.contains { $0.cpuShareWhileBusy < starvedBelow }, starvedBelow: starvedBelow,
                               reaperSplitScanSeconds: Double(env.reaper.splitScanNanos) / 1e9,
                               reaperSplitPasses: env.reaper.splitPasses, reaperSplitWalks: env.reaper.splitWalks,
                               reaperSplitSlotsScanned: env.reaper.splitSlotsScanned, reaperSplitSlotsReached: env.reaper.splitSlotsReached)
        judgeLoad(&report, machine: u0.machine.flatMap { m0 in u1.machine.map { $0 - m0 } })
        return report
    }

    /// What the machine did to the run: the CPU other processes and the
    /// hypervisor took, how long the workers were queued for a CPU, how
    /// much of their waiting was for a queued party, and the flags those
    /// raise. Preconditions: `r.workers` and the phase's times are set.
    static func judgeLoad(_ r: inout CPUReport, machine: MachineCPU?) {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        r.onlineCPUs = online
        let wall = r.phaseWallSeconds
        if let m = machine, wall > 0 {
            let busy = Double(m.busyTicks) / MachineCPU.ticksPerSecond
            r.otherProcessesCPUs = max(0, busy - r.processCPUSeconds) / wall
            r.stealCPUs = Double(m.stealTicks) / MachineCPU.ticksPerSecond / wall
        }
        let spin = r.workers.reduce(0) { $0 + ($1.waitSpinSeconds ?? 0) }
        r.waitSpinSeconds = spin
        var flags: [CPUReport.Flag] = []
        let queued = r.workers.compactMap(\.runQueueSeconds)
        let onCPU = r.workers.compactMap(\.onCPUSeconds)
        // Under 50 ms of work is mostly start-up: not judged.
        guard queued.count == r.workers.count, onCPU.reduce(0, +) >= 0.05 else {
            r.flags = flags
            return
        }
        let queuedTotal = queued.reduce(0, +)
        let share = queuedTotal / (queuedTotal + onCPU.reduce(0, +))
        r.workerRunQueueShare = share
        let other = (r.otherProcessesCPUs ?? 0) + (r.stealCPUs ?? 0)
        let got = wall > 0 ? onCPU.reduce(0, +) / wall : 0
        let n = r.workers.count
        if share >= CPUReport.runQueueShareLimit {
            let pct = Int((share * 100).rounded())
            let limit = Int(CPUReport.runQueueShareLimit * 100)
            let load = "other processes took " + ReportFormatter.f(r.otherProcessesCPUs ?? 0) + " of the \(online) CPUs"
                + ((r.stealCPUs ?? 0) >= 0.05 ? " and the hypervisor " + ReportFormatter.f(r.stealCPUs!) : "")
            if other >= CPUReport.otherCPUsCause {
                flags.append(.init(kind: "busy-machine", reason: "busy machine: the workers were queued for a CPU \(pct) % of the time they could run (at most \(limit) % on a quiet machine); their threads got " + ReportFormatter.f(got) + " CPUs for \(n) worker(s): \(load). Throughput and latency figures understate the design"))
            } else {
                flags.append(.init(kind: "oversubscribed", reason: "oversubscribed: the workers were queued for a CPU \(pct) % of the time they could run (at most \(limit) % on a quiet machine) while \(load): the run's own threads (workers, reaper, generators) outnumber the CPUs. Throughput and latency figures understate the design"))
            }
        }
        // For each worker, the lesser of its waits and the others' queued
        // time: it cannot have waited on a queued party for longer.
        var onQueued = 0.0
        for (i, w) in r.workers.enumerated() {
            let waited = (w.waitSpinSeconds ?? 0) + (w.waitParkedSeconds ?? 0)
            onQueued += min(waited, queuedTotal - queued[i])
        }
        r.waitedOnDescheduledSeconds = onQueued
        // Only where the workers were short of CPU: on a quiet machine a
        // free-running run's own reaper thread queues them a few %.
        if n > 1, wall > 0, share >= CPUReport.runQueueShareLimit,
           onQueued >= CPUReport.waitedOnDescheduledLimit * wall * Double(n) {
            flags.append(.init(kind: "waited-on-descheduled", reason: "waited on descheduled parties: up to " + ReportFormatter.f(onQueued, 3) + " s of the workers' waits at lock-step barriers and in the reaper team were for a party queued for a CPU (\(Int((onQueued / (wall * Double(n)) * 100).rounded())) % of their wall time; flagged from \(Int(CPUReport.waitedOnDescheduledLimit * 100)) %)"))
        }
        r.flags = flags
    }

    static func reaperHealth<T: ConnTrackTable>(_ reaper: Reaper<T>, _ r: (passes: Int, interval: Int64, nextStart: Int, stats: TableStats,
                                                                            history: [Reaper<T>.PassRecord], totals: Reaper<T>.Totals),
                                                end: Int64) -> ReaperHealth {
        let outstanding = reaper.passesOutstanding(at: end)
        let due = r.passes + outstanding
        let lags = r.history.map { Double($0.lagNanos) / 1e6 }
        let behind = due > 0 ? Double(r.totals.late + outstanding) / Double(due) : 0
        return ReaperHealth(passesDue: due, passesRun: r.passes, passesLate: r.totals.late,
                            maxLagMillis: Double(r.totals.maxLagNanos) / 1e6, p99LagMillis: dist(lags).p99,
                            behindShare: behind, behindLimit: ReaperHealth.behindLimit,
                            flagged: behind > ReaperHealth.behindLimit, cpuSeconds: Double(r.totals.cpuNanos) / 1e9,
                            passesComputed: r.totals.fastForwarded, summariesBuilt: r.totals.summariesBuilt)
    }
}
