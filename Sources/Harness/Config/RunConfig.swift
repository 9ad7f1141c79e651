import ConnTrack
import FlowGen
import Sync

/// Where a run's packets come from.
public enum RunSource: Sendable {
    /// `scenario`, generated.
    case scenario
    /// A capture file and what its records became.
    case capture(file: String, stats: PcapStats)
    /// A workload (its phases already scaled by `timeScale`), played from
    /// `scenario.seed`.
    case workload(Workload, timeScale: Double)
}

/// Every knob of a run. `validate()` is the one place a configuration is
/// checked; `Runner` calls it before anything runs.
public struct RunConfig: Sendable {
    /// Registry name of the table design (`TableDesigns`).
    public var design: String = BucketTable.traits.name
    public var table = TableConfig()
    public var scenario = ScenarioOptions()
    public var threads: Int = 2
    public var policy: ReaperPolicyChoice = .seed(SeedReaperPolicy())
    public var reaperEnabled = true
    /// Delay before the first reaper pass (seed: 5 s), on the run's clock.
    public var reaperStartDelay: Int64 = 5 * Duration_ns.second
    /// Passes with nothing expired in their window, while no packet
    /// arrives, are computed instead of walked (`Reaper.runDue`).
    public var reaperFastForward = true
    public var clock: ClockMode = .virtual
    /// One worker, timestamp order, reaper passes inline at their due times.
    public var deterministic = false
    /// Multi-worker virtual runs advance in lock-step windows of this much
    /// virtual time (0: free-running, scheduling-dependent).
    public var windowNanos: Int64 = RunConfig.defaultWindowNanos
    public static let defaultWindowNanos: Int64 = 100 * Duration_ns.millisecond
    /// The run's reaper has a thread of its own (free-running or real-time
    /// runs); the deterministic and lock-step drivers run its passes on the
    /// workers' threads.
    public var runsReaperThread: Bool {
        reaperEnabled && !deterministic && !(clock == .virtual && windowNanos > 0)
    }
    /// A lock-step window that would hold fewer packets (all workers
    /// together) is merged with the windows after it, up to
    /// `windowMaxNanos` of virtual time (0: never merged).
    public var windowMinPackets: Int = 0
    public var windowMaxNanos: Int64 = 1 * Duration_ns.second
    /// At a lock-step boundary, the reaper's passes over a design that
    /// `scansForReap` are split across the waiting workers (same counters
    /// as one walk); false: the leader walks them while the others wait.
    public var splitReaperPasses = true
    /// Operations that change the table (`--op flush`, `delete`, `resize`) run on
    /// their own thread at any moment, window boundaries included; a split
    /// pass (its scan predicts the walk) and a computed idle pass (its
    /// summary is kept true by the reaper's and workers' removals only)
    /// both assume nothing else changes the table there. With such
    /// operations the passes are walked, whole, by one thread.
    public var operationsChangeTable: Bool { operations.contains { $0.kind == .flush || $0.kind == .delete || $0.kind == .resize } }
    /// `splitReaperPasses`, unless operations change the table.
    public var splitsReaperPasses: Bool { splitReaperPasses && !operationsChangeTable }
    /// `reaperFastForward`, unless operations change the table.
    public var fastForwardsReaper: Bool { reaperFastForward && !operationsChangeTable }
    /// Tests: within each lock-step window the workers take turns (worker
    /// 0's packets, then worker 1's, …), ordered by the barrier, so a
    /// windowed run is a function of its inputs: what is left of the
    /// order between repeats is only the order within windows.
    var workersTakeTurns = false
    /// A workload's samples: every this much virtual time.
    public var workloadSampleNanos: Int64 = Duration_ns.second
    /// How long a waiting worker spins before it parks (`WaitPoint`).
    public var waitSpinNanos: Int64 = WaitPoint.defaultSpinNanos
    /// When every worker can have a second CPU for it, each worker's
    /// scenario is generated ahead on a thread of its own, overlapping the
    /// table phase (`Prefetcher`); false: workers generate between rounds.
    public var overlapGeneration = true
    /// Packets per batch between quiescent points and counter publication.
    public var batch: Int = 256
    /// Packets generated ahead per worker per round (untimed).
    public var chunk: Int = 1 << 20
    /// Packets processed before counters and timers start.
    public var warmup: Int = 0
    /// One packet in `latencySampleEvery` is timed.
    public var latencySampleEvery: Int = 64
    public var checkLockOrder = LockTracker.enabledByDefault
    /// Seconds without progress before the watchdog reports and exits (0: off).
    public var watchdogSeconds: Double = 0
    /// Real seconds between time-series samples (0: no series).
    public var sampleSeconds: Double = 0
    /// What the watchdog does with its report; nil prints it and exits
    /// with code 4. Tests capture it instead.
    public var onStall: (@Sendable (String) -> Void)? = nil
    /// Called once with the table before any worker starts (tests).
    public var onTableCreated: (@Sendable (AnyObject) -> Void)? = nil
    /// Called with each sample while running (the progress line).
    public var progress: (@Sendable (Sample) -> Void)? = nil
    /// Where the packets come from; a replay names its capture.
    public var source: RunSource = .scenario
    /// A soak instead of a fixed number of packets (windowed runs only).
    public var soak: SoakConfig? = nil
    /// A paced run (`--rate`, `--ring`): packets arrive in real time into
    /// each worker's receive ring (`PacedDriver`); nil: as fast as the
    /// table takes them.
    public var pacing: Pacing? = nil
    /// Operations on the running table (`--op`), on their own thread.
    public var operations: [OperationSpec] = []
    /// Where dumps' `conntrack -L` lines go (an open file the caller
    /// owns); nil: formatted and counted only.
    public var operationDumpFD: Int32? = nil
    /// Unix time (ns) of the virtual clock's 0: a scenario's nominal start
    /// (what `generate` writes), a capture's first timestamp. Saved tables
    /// store `lastUsed` as Unix time through it.
    public var clockEpochUnixNanos: Int64 = PcapWriter().epochOffset
    /// A saved table to start from (`--restore`).
    public var restore: TableSnapshot? = nil
    /// Let a restored table go into another design, variant or bucket count.
    public var rehash = false
    /// Save the table when virtual time reaches this, the workers paused at
    /// a batch (deterministic) or window (lock-step) boundary.
    public var saveAt: Int64? = nil
    /// Save the table at the end of the run, before the end-of-run checks.
    public var saveAtEnd = false
    /// Records per-packet verdicts and connection events (`--verdicts`,
    /// `--events`); nil: off, and the packet path pays one branch.
    public var trace: TraceRecorder? = nil
    /// Receives every table saved (`saveAt`, `saveAtEnd`), on the thread
    /// that saved it, while the workers wait.
    public var onSnapshot: (@Sendable (_ snapshot: TableSnapshot, _ atEnd: Bool) -> Void)? = nil

    public init() {}

    /// The table configuration a run builds its table from: a design that
    /// sizes itself (`DesignTraits.sizedByCapacity`) and was given no
    /// `--capacity` is told the connections to expect: the scenario's
    /// concurrent flows (split between streams, or shared by them), or a
    /// capture's distinct flows.
    public var tableForRun: TableConfig {
        var t = table
        // A plugin gets it too (`ctb_config.expected_connections`), to size by if it likes.
        guard t.expectedConnections == nil,
              designType?.traits.sizedByCapacity == true || PluginLoader.isPluginSpec(design) else { return t }
        switch source {
        case .scenario:
            t.expectedConnections = max(1, min(scenario.flows, scenario.packets, 1 << 30))
        case .capture(_, let stats):
            // Its distinct flows, which bound the connections it can hold at
            // once; its packets only when they were not counted.
            t.expectedConnections = max(1, min(stats.flows ?? stats.used, stats.used, 1 << 26))
        case .workload(let w, _):
            t.expectedConnections = max(1, min(w.expectedPeakConnections(linger: table.timeouts.longestUnestablished), 1 << 30))
        }
        if let r = restore { t.expectedConnections = max(t.expectedConnections ?? 1, r.records.count) }
        return t
    }

    /// The flows a table is sized for (`compare --sized`): the scenario's
    /// concurrent flows, or a workload's expected peak of connections.
    public var expectedFlows: Int {
        if case .workload(let w, _) = source { return w.expectedPeakConnections(linger: table.timeouts.longestUnestablished) }
        return scenario.flows
    }

    /// The registered design this configuration names.
    public var designType: (any ConnTrackTable.Type)? { TableDesigns.named(design) }

    /// The design's traits. Preconditions: `validate()` passed.
    public var traits: DesignTraits { designType!.traits }

    /// Checks every value and that the design supports every option set.
    public func validate() throws(ConfigError) {
        guard let d = designType else {
            if let e = TableDesigns.loadError(design) { throw ConfigError(e) }
            throw ConfigError("--design must be one of \(TableDesigns.names.joined(separator: ", ")), got '\(design)'")
        }
        try table.validate(for: d.traits)
        if trace != nil && !d.traits.traces {
            throw ConfigError("--verdicts and --events are not available for design \(d.traits.name): it does not declare CTB_TRAIT_TRACES (docs/plugins.md#verdicts-and-events)")
        }
        try scenario.validate()
        if reaperEnabled { try policy.validate(tableSlots: table.buckets) }
        guard threads >= 1 && threads <= 64 else { throw ConfigError("--threads must be in 1...64, got \(threads)") }
        guard batch >= 1 && batch <= 1 << 20 else { throw ConfigError("--batch must be in 1...1048576, got \(batch)") }
        guard chunk >= batch && chunk <= 1 << 26 else { throw ConfigError("--chunk must be in \(batch)...\(1 << 26), got \(chunk)") }
        guard warmup >= 0 else { throw ConfigError("--warmup must be >= 0, got \(warmup)") }
        guard latencySampleEvery >= 1 && latencySampleEvery <= 1 << 30 else {
            throw ConfigError("--latency-sample-every must be in 1...\(1 << 30), got \(latencySampleEvery)")
        }
        guard watchdogSeconds >= 0 && watchdogSeconds <= 86400 else {
            throw ConfigError("--watchdog must be in 0...86400 seconds, got \(watchdogSeconds)")
        }
        guard sampleSeconds >= 0 && sampleSeconds <= 3600 else {
            throw ConfigError("--sample-interval must be in 0...3600 seconds, got \(sampleSeconds)")
        }
        guard reaperStartDelay >= 0 else { throw ConfigError("--reaper-start-delay must be >= 0 seconds") }
        if deterministic && threads != 1 { throw ConfigError("--deterministic needs --threads 1, got \(threads)") }
        if deterministic && clock != .virtual { throw ConfigError("--deterministic needs --clock virtual, got \(clock.rawValue)") }
        guard windowMinPackets >= 0 && windowMinPackets <= 1 << 26 else {
            throw ConfigError("--window-min-packets must be in 0...\(1 << 26), got \(windowMinPackets)")
        }
        guard windowMaxNanos >= 0 && windowMaxNanos <= 3600 * Duration_ns.second else {
            throw ConfigError("--window-max-ms must be in 0...3600000, got \(Double(windowMaxNanos) / 1e6)")
        }
        guard windowNanos >= 0 && windowNanos <= 3600 * Duration_ns.second else {
            throw ConfigError("--window-ms must be in 0...3600000, got \(Double(windowNanos) / 1e6)")
        }
        if case .workload = source {
            guard clock == .virtual && (deterministic || windowNanos > 0) else {
                throw ConfigError("--workload needs the virtual clock with --deterministic or lock-step windows (not --clock \(clock.rawValue) or --window-ms 0): its samples are taken where the workers pause")
            }
            guard workloadSampleNanos >= Duration_ns.millisecond && workloadSampleNanos <= 3600 * Duration_ns.second else {
                throw ConfigError("--sample-interval must be in 0.001...3600 seconds, got \(Double(workloadSampleNanos) / 1e9)")
            }
            guard restore == nil else {
                throw ConfigError("--restore does not apply to a workload: a workload starts at virtual time 0 with an empty table")
            }
        }
        try MemoryEstimate.check(self)
        if let t = saveAt {
            guard t >= 0 else { throw ConfigError("--save-at must be >= 0 seconds, got \(Double(t) / 1e9)") }
            guard clock == .virtual && (deterministic || windowNanos > 0) && soak == nil else {
                throw ConfigError("--save-at needs the virtual clock with --deterministic or lock-step windows (not --clock \(clock.rawValue), --window-ms 0 or --soak)")
            }
        }
        if let r = restore {
            let h = r.header
            let variant = (table.variant ?? d.traits.defaultVariant)?.rawValue
            let sameTable = h.design == design && h.variant == variant && h.buckets == table.buckets
            guard sameTable || rehash else {
                throw ConfigError("--restore: the table was saved as \(h.design)\(h.variant.map { "/" + $0 } ?? "") with \(h.buckets) buckets; pass --rehash to load it into \(design)\(variant.map { "/" + $0 } ?? "") with \(table.buckets)")
            }
            if let m = table.maxConnections, r.records.count > m {
                throw ConfigError("--restore: the table holds \(r.records.count) connections, more than --max-connections \(m)")
            }
        }
        if !operations.isEmpty {
            guard !deterministic else {
                throw ConfigError("--op runs operations on their own thread while the workers run: not with --deterministic")
            }
            if let k = operations.first(where: { $0.kind != .stats && $0.kind != .resize }), !d.traits.operatesWhileRunning {
                throw ConfigError("--op \(k.kind.rawValue) is not supported by design \(d.traits.name): the plugin has no dump_running and remove_running (ABI 3, docs/plugins.md)")
            }
            if operations.contains(where: { $0.kind == .resize }), !d.traits.resizesWhileRunning {
                let able = TableDesigns.all.map { $0.traits }.filter(\.resizesWhileRunning).map(\.name).joined(separator: ", ")
                throw ConfigError("--op resize is not supported by design \(d.traits.name): \(d.traits.noResizeReason) (designs that resize while running: \(able))")
            }
        }
        if let p = pacing {
            guard (1...Pacing.maxRate).contains(p.rate) else {
                throw ConfigError("--rate must be in 1...\(Pacing.maxRate) packets per second, got \(p.rate)")
            }
            guard (1...Pacing.maxRing).contains(p.ring) else {
                throw ConfigError("--ring must be in 1...\(Pacing.maxRing) descriptors, got \(p.ring)")
            }
            guard p.rate >= threads else {
                throw ConfigError("--rate must be at least 1 packet per second per worker (\(threads) workers), got \(p.rate)")
            }
            let isWorkload = if case .workload = source { true } else { false }
            guard !deterministic && soak == nil && saveAt == nil && !isWorkload && warmup == 0 else {
                throw ConfigError("--rate paces a free-running run in real time: not with --deterministic, --soak, --save-at, --workload or --warmup")
            }
        }
        if let s = soak {
            guard !deterministic && clock == .virtual && windowNanos > 0, case .scenario = source else {
                throw ConfigError("--soak needs a generated scenario on the virtual clock with lock-step windows (not --deterministic, --pcap, --clock \(clock.rawValue) or --window-ms 0)")
            }
            guard s.seconds > 0 else { throw ConfigError("--soak must be a positive number of seconds or inf, got \(s.seconds)") }
            guard s.checkEvery >= 0.1 && s.checkEvery <= 86400 else {
                throw ConfigError("--check-every must be in 0.1...86400 seconds, got \(s.checkEvery)")
            }
            guard s.rssGrowthLimit >= 0 && s.rssGrowthLimit <= 10 else {
                throw ConfigError("--soak-rss-growth must be in 0...1000 %, got \(s.rssGrowthLimit * 100)")
            }
        }
    }
}

/// A paced run's arrivals: `rate` packets per second over the whole run,
/// split evenly between the workers' rings of `ring` descriptors.
public struct Pacing: Sendable, Equatable {
    public var rate: Int
    public var ring: Int
    /// A trial of the lossless-rate search: packets arrive for this many
    /// seconds of the arrival clock, then the rings drain; nil: until the
    /// stream ends.
    public var seconds: Double? = nil
    /// DPDK-based switches' common receive ring.
    public static let defaultRing = 1024
    public static let maxRate = 1_000_000_000
    public static let maxRing = 1 << 20

    public init(rate: Int, ring: Int = Pacing.defaultRing) {
        self.rate = rate
        self.ring = ring
    }
}
