import CAllocStats
import ConnTrack
import FlowGen
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// Runs a configuration: builds the table of the configured design and the
/// reaper, starts the sampler and the watchdog, hands the packets to a
/// driver, then runs the end-of-run checks and builds the report.
public enum Runner {
    /// Runs the configured scenario.
    public static func run(_ config: RunConfig) throws(ConfigError) -> RunReport {
        try config.validate()
        return try run(config.designType!, config, packets: nil)
    }

    /// Replays fixed packet lists (one per worker), e.g. a capture.
    public static func run(_ config: RunConfig, packets: [[Packet]]) throws(ConfigError) -> RunReport {
        try config.validate()
        guard !packets.isEmpty else { throw ConfigError("a replay needs at least one packet list") }
        return try run(config.designType!, config, packets: packets)
    }

    /// Replays a capture as it reads it: one stream per worker (one in a
    /// deterministic run) sharing one decoding of the file, a flow's two
    /// directions on one worker, virtual time from the capture's first
    /// timestamp.
    public static func run(_ config: RunConfig, capture: Capture) throws(ConfigError) -> RunReport {
        try config.validate()
        let n = config.deterministic ? 1 : config.threads
        let streams = capture.streams(workers: n, rebase: capture.firstTimestamp ?? 0)
        var report = try run(config.designType!, config, packets: nil, streams: streams)
        if let w = capture.truncationWarning { report.warnings.insert("capture cut short: " + w, at: 0) }
        return report
    }

    /// `hooks` run after the configured ones at the drivers' boundaries
    /// (tests). Preconditions: `cfg` was validated.
    static func run<T: ConnTrackTable>(_: T.Type, _ cfg: RunConfig, packets: [[Packet]]?, streams: [CaptureStream]? = nil,
                                       hooks extraHooks: [any RunBoundaryHook] = []) throws(ConfigError) -> RunReport {
        let startedAt = time(nil)
        let threads = streams?.count ?? packets?.count ?? cfg.threads
        let workers = (0..<threads).map { WorkerShared(index: $0) }
        // A restored scenario goes on from where each stream was saved.
        let resume = cfg.restore.flatMap { r in
            r.header.scenario == cfg.scenario && r.header.streamPositions?.count == threads ? r.header.streamPositions : nil
        }
        let sources = SourceBox((0..<threads).map { w in
            if let s = streams { return PacketSource(capture: s[w]) }
            if let p = packets { return PacketSource(list: p[w]) }
            if case .workload(let wl, _) = cfg.source {
                return PacketSource(workload: WorkloadGenerator(wl, seed: cfg.scenario.seed, stream: w, streams: threads))
            }
            var g = FlowGenerator(cfg.scenario, stream: w, streams: threads)
            for _ in 0..<(resume?[w] ?? 0) { _ = g.next() }
            return PacketSource(gen: g)
        }, prefetch: cfg.overlapGeneration && 2 * threads + (cfg.runsReaperThread ? 1 : 0) <= onlineCPUs())
        // The heap before the table exists: what it grows by is the table's.
        let heapBefore = allocatedBytes()
        let table = T(cfg.tableForRun)
        cfg.onTableCreated?(table)
        let startTime = cfg.clock != .virtual ? MonotonicClock.read() : 0
        let reaperWatch = WatchSlot(name: "reaper")
        let reaper = Reaper(table: table, policy: cfg.policy, startDelay: cfg.reaperStartDelay, startTime: startTime,
                            checkLockOrder: cfg.checkLockOrder, lockAction: cfg.checkLockOrder ? .trap : .record,
                            watch: reaperWatch, fastForward: cfg.fastForwardsReaper)
        if let t = cfg.trace {
            t.prepare(workers: threads)
            reaper.attachTrace(t.reaperLane)
        }
        var restoreNanos: Int64 = 0
        if let r = cfg.restore {
            let t0 = MonotonicClock.read()
            defer { restoreNanos = MonotonicClock.read() - t0 }
            var ctx = WorkerContext(name: "restore", checkLockOrder: cfg.checkLockOrder)
            do throws(ImportError) { try table.importConnections(r.records, &ctx) } catch {
                throw ConfigError("--restore " + r.describe(record: error.record, error.reason))
            }
            // The seed's afterLoad: the reaper starts again after its delay.
            if let s = r.header.reaper, cfg.reaperEnabled, s.policy.name == cfg.policy.name {
                // On a real clock the delay counts from the restore itself.
                reaper.restore(s, earliest: (cfg.clock == .virtual ? r.header.savedAt : startTime) &+ cfg.reaperStartDelay)
            }
            for (w, p) in (resume ?? []).enumerated() { workers[w].processed = p }
            // A save later in this run counts the first part's peak too.
            workers[0].livePeak = r.header.livePeak
        }
        let env = RunEnvironment<T>(table: table, reaper: reaper, cfg: cfg, workers: workers, sources: sources,
                                 startTime: startTime, carried: cfg.restore?.header.counters)
        let wallStart = MonotonicClock.read()
        var workloadMonitor: WorkloadMonitor<T>?
        if case .workload(let wl, let scale) = cfg.source {
            workloadMonitor = WorkloadMonitor(env, workload: wl, timeScale: scale, sampleNanos: cfg.workloadSampleNanos)
        }
        // Progress: by packets, or by virtual time for a workload (its
        // packets are not known ahead).
        let sampler = Sampler<T>(env, totalPackets: packets.map { $0.reduce(0) { $0 + $1.count } } ?? cfg.scenario.packets,
                              totalVirtual: workloadMonitor?.workload.duration, wallStart: wallStart)
        let watchdog = Watchdog(slots: workers.map(\.watch) + [reaperWatch], seconds: cfg.watchdogSeconds,
                                onStall: cfg.onStall)
        sampler.start()
        watchdog.start()
        let usageStart = ProcessUsage.now()
        // What runs at the drivers' boundaries: the mid-run save and the
        // soak's checks (the configuration allows them only with drivers
        // that have boundaries).
        let soak = cfg.soak.map { SoakMonitor($0, env) }
        var hooks: [any RunBoundaryHook] = []
        if let t = cfg.saveAt { hooks.append(MidRunSave(env, at: t)) }
        if let soak { hooks.append(soak) }
        if let workloadMonitor { hooks.append(workloadMonitor) }
        hooks += extraHooks
        let processedBefore = workers.map(\.processed)
        let operations = cfg.operations.isEmpty ? nil
            : OperationRunner(env, specs: cfg.operations, dumpFD: cfg.operationDumpFD, wallStart: wallStart)
        operations?.start()
        var drive: DriveResult
        if cfg.pacing != nil {
            precondition(hooks.isEmpty, "a paced run has no boundaries to call hooks at")
            drive = PacedDriver.drive(env)
        } else if cfg.deterministic {
            drive = DeterministicDriver.drive(env, hooks: BoundaryHooks(hooks))
        } else if cfg.clock == .virtual && cfg.windowNanos > 0 {
            drive = WindowedDriver.drive(env, hooks: BoundaryHooks(hooks))
        } else {
            precondition(hooks.isEmpty, "the free-running driver has no boundaries to call hooks at")
            drive = RoundsDriver.drive(env)
        }
        let operationsReport = operations?.stop()
        // The operation thread's removals count with the workers'.
        if let o = operations, !drive.contexts.isEmpty {
            drive.contexts[0].stats.merge(o.ctx.stats)
            drive.contexts[0].locks.violations += o.ctx.locks.violations
        }
        let usageEnd = ProcessUsage.now()
        let producerNanos = sources.finish()
        if let t = cfg.trace {
            t.designError = t.check(processed: zip(workers, processedBefore).map { $0.processed - $1 }, design: T.traits.name)
        }
        drive.soak = soak?.report
        // The samples' table walks are not table work; the last samples come
        // before the checks sweep the table.
        workloadMonitor?.finishSamples(completed: StopSignal.requested == nil)
        if let m = workloadMonitor { drive.tableNanos = max(0, drive.tableNanos - m.monitorNanos) }
        if let peak = cfg.restore?.header.livePeak { drive.livePeak = max(drive.livePeak, peak) }
        if cfg.saveAtEnd {
            var merged = TableStats()
            for c in drive.contexts { merged.merge(c.stats) }
            env.save(at: drive.endTime, workerStats: merged, livePeak: drive.livePeak, atEnd: true)
        }
        let samples = sampler.stop()
        watchdog.stop()
        let wallNanos = MonotonicClock.read() - wallStart
        let inspection = table.inspect()
        // What the table maps itself is not in the allocator's statistics.
        let heapGrowth = allocatedBytes() - heapBefore + inspection.mappedBytes
        let checks = EndOfRunChecks.run(table, cfg, endTime: drive.endTime)
        var report = ReportBuilder.build(env, drive: drive, inspection: inspection, checks: checks, samples: samples,
                                         wallNanos: wallNanos, usage: (usageStart, usageEnd), tableHeapBytes: heapGrowth)
        if let r = cfg.restore {
            report.restoredConnections = r.records.count
            report.restoreSeconds = Double(restoreNanos) / 1e9
            report.restoreLoadSeconds = Double(r.loadNanos) / 1e9
        }
        if sources.prefetching { report.generationOverlappedSeconds = Double(producerNanos) / 1e9 }
        report.workload = workloadMonitor?.report()
        report.paced = drive.paced
        report.operations = operationsReport
        if operations != nil {
            report.removedByOperation = drive.contexts.reduce(0) { $0 + $1.stats.removedByOperation }
        }
        report.provenance = Provenance.current(allocator: report.memory.allocator, startedAt: startedAt)
        report.warnings += cfg.configWarnings
        if let w = cfg.zeroBudgetWarning(table: table.sweepSlots) { report.warnings.append(w) }
        // A capture that changed after it was checked ends its stream early.
        for f in Set(sources.cells.compactMap { $0.source.capture?.failure?.description }).sorted() {
            report.warnings.append("capture replay ended early: \(f)")
        }
        return report
    }

    static func onlineCPUs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    static func allocatedBytes() -> Int {
        var allocated = 0, active = 0, resident = 0
        _ = ct_alloc_stats(&allocated, &active, &resident)
        return allocated
    }
}
