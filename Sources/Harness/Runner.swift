import CAllocStats
import ConnTrack
import FlowGen
import Sync

/// Runs a configuration: builds the table of the configured design and the
/// reaper, starts the sampler and the watchdog, hands the packets to a
/// driver, then runs the end-of-run checks and builds the report.
public enum Runner {
    /// Runs the configured scenario.
    public static func run(_ config: RunConfig) throws(ConfigError) -> RunReport {
        try config.validate()
        return run(config.designType!, config, packets: nil)
    }

    /// Replays fixed packet lists (one per worker), e.g. a capture.
    public static func run(_ config: RunConfig, packets: [[Packet]]) throws(ConfigError) -> RunReport {
        try config.validate()
        guard !packets.isEmpty else { throw ConfigError("a replay needs at least one packet list") }
        return run(config.designType!, config, packets: packets)
    }

    /// Replays a capture as it reads it: one stream per worker (one in a
    /// deterministic run), a flow's two directions on one worker, virtual
    /// time from the capture's first timestamp.
    public static func run(_ config: RunConfig, capture: Capture) throws(ConfigError) -> RunReport {
        try config.validate()
        let n = config.deterministic ? 1 : config.threads
        let streams = (0..<n).map { capture.stream(worker: $0, of: n, rebase: capture.firstTimestamp ?? 0) }
        return run(config.designType!, config, packets: nil, streams: streams)
    }

    /// Preconditions: `cfg` was validated.
    static func run<T: ConnTrackTable>(_: T.Type, _ cfg: RunConfig, packets: [[Packet]]?,
                                       streams: [CaptureStream]? = nil) -> RunReport {
        let threads = streams?.count ?? packets?.count ?? cfg.threads
        let workers = (0..<threads).map { WorkerShared(index: $0) }
        let sources = SourceBox((0..<threads).map { w in
            if let s = streams { return PacketSource(capture: s[w]) }
            if let p = packets { return PacketSource(list: p[w]) }
            return PacketSource(gen: FlowGenerator(cfg.scenario, stream: w, streams: threads))
        })
        // The heap before the table exists: what it grows by is the table's.
        let heapBefore = allocatedBytes()
        let table = T(cfg.table)
        cfg.onTableCreated?(table)
        let startTime = cfg.clock != .virtual ? MonotonicClock.read() : 0
        let reaperWatch = WatchSlot(name: "reaper")
        let reaper = Reaper(table: table, policy: cfg.policy, startDelay: cfg.reaperStartDelay, startTime: startTime,
                            checkLockOrder: cfg.checkLockOrder, lockAction: cfg.checkLockOrder ? .trap : .record,
                            watch: reaperWatch, fastForward: cfg.reaperFastForward)
        let env = RunEnvironment<T>(table: table, reaper: reaper, cfg: cfg, workers: workers, sources: sources,
                                 startTime: startTime)
        let wallStart = MonotonicClock.read()
        let sampler = Sampler<T>(env, totalPackets: packets.map { $0.reduce(0) { $0 + $1.count } } ?? cfg.scenario.packets,
                              wallStart: wallStart)
        let watchdog = Watchdog(slots: workers.map(\.watch) + [reaperWatch], seconds: cfg.watchdogSeconds,
                                onStall: cfg.onStall)
        sampler.start()
        watchdog.start()
        let usageStart = ProcessUsage.now()
        let drive = cfg.deterministic ? DeterministicDriver.drive(env)
            : cfg.clock == .virtual && cfg.windowNanos > 0 ? WindowedDriver.drive(env)
            : RoundsDriver.drive(env)
        let usageEnd = ProcessUsage.now()
        let samples = sampler.stop()
        watchdog.stop()
        let wallNanos = MonotonicClock.read() - wallStart
        let heapGrowth = allocatedBytes() - heapBefore
        let inspection = table.inspect()
        let checks = EndOfRunChecks.run(table, cfg, endTime: drive.endTime)
        var report = ReportBuilder.build(env, drive: drive, inspection: inspection, checks: checks, samples: samples,
                                         wallNanos: wallNanos, usage: (usageStart, usageEnd), tableHeapBytes: heapGrowth)
        // A capture that changed after it was checked ends its stream early.
        for f in Set(sources.cells.compactMap { $0.source.capture?.failure?.description }).sorted() {
            report.warnings.append("capture replay ended early: \(f)")
        }
        return report
    }

    static func allocatedBytes() -> Int {
        var allocated = 0, active = 0, resident = 0
        _ = ct_alloc_stats(&allocated, &active, &resident)
        return allocated
    }
}
