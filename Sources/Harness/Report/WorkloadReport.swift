/// A workload run, phase by phase and over time (`run --workload`): what
/// each phase did to the table, and how long the table took to get back to
/// a clean state after each change.
public struct WorkloadReport: Codable, Sendable, Equatable {
    public var name: String
    public var summary: String
    /// Every phase's duration was multiplied by this (`--time-scale`).
    public var timeScale: Double
    /// Virtual seconds between samples.
    public var sampleSeconds: Double
    /// Wall time spent taking the samples (counting the expired connections
    /// means walking the table): taken out of the table time.
    public var monitorSeconds: Double
    /// The smallest share of the table the garbage was counted on at a
    /// sample (1: every connection was checked at every sample): a design
    /// that can split itself evenly (every 16th bucket, or pool entry) is
    /// sampled once it holds more than `garbageExactUpTo` connections.
    public var garbageSampledShare: Double
    public var garbageExactUpTo: Int
    public var phases: [Phase]
    public var series: [Sample]

    /// Garbage at or under this share of the live connections is "clean".
    public static let cleanShare = 0.05

    /// A phase's recovery from its samples (those after its start, in
    /// order): the virtual seconds from its start to the first sample after
    /// which garbage stays at or under `cleanShare` of live to the phase's
    /// end, and that sample's index; (0, nil) when no sample was over;
    /// (nil, last index) when the last one still was.
    public static func recovery(_ inPhase: [Sample], phaseStart: Double) -> (seconds: Double?, at: Int?) {
        let over = { (s: Sample) in Double(s.garbage) > cleanShare * Double(max(1, s.live)) }
        guard let lastOver = inPhase.lastIndex(where: over) else { return (0, nil) }
        guard lastOver + 1 < inPhase.count else { return (nil, lastOver) }
        return (inPhase[lastOver + 1].virtualSeconds - phaseStart, lastOver + 1)
    }

    /// One point, taken at the first boundary at or after each interval of
    /// virtual time (in lock-step runs, within one window of it).
    public struct Sample: Codable, Sendable, Equatable {
        public var virtualSeconds: Double
        /// Index into `phases`.
        public var phase: Int
        public var packets: UInt64
        public var created: UInt64
        /// Connections removed (inline, by the reaper, by early drop).
        public var removed: UInt64
        public var live: Int64
        /// Connections expired but still linked (the reaper has not reached
        /// them yet).
        public var garbage: Int
        public var insertFailed: UInt64
        public var drop: UInt64
        public var earlyDrop: UInt64
        public var reaperPasses: Int
        /// The reaper's interval now, seconds.
        public var reaperIntervalSeconds: Double
        public var reaperCPUSeconds: Double
        /// The sampled packets' latency since the previous sample.
        public var latencyP99Nanos: Double
        public var rssBytes: Int
        /// Table time so far (wall time less generation and sampling).
        public var tableSeconds: Double
    }

    public struct Phase: Codable, Sendable, Equatable {
        public var name: String
        public var startSeconds: Double
        public var endSeconds: Double
        public var packets: UInt64
        /// Packets over the phase's table time.
        public var packetsPerSecond: Double
        /// Connections created and removed per virtual second.
        public var setupsPerSecond: Double
        public var teardownsPerSecond: Double
        public var latencyP99Nanos: Double
        public var latencyP999Nanos: Double
        public var liveAtEnd: Int64
        public var livePeak: Int64
        public var garbagePeak: Int
        public var insertFailed: UInt64
        public var drop: UInt64
        public var earlyDrop: UInt64
        public var reaperPasses: Int
        /// Mean of the reaper's intervals sampled in the phase, seconds.
        public var reaperIntervalSeconds: Double
        public var reaperCPUSeconds: Double
        public var rssPeakBytes: Int
        /// Virtual seconds from the phase's start until garbage was back at
        /// or under 5 % of the live connections for the rest of the phase
        /// (0: it never went over); nil: still over at the phase's end.
        public var recoverySeconds: Double?
        /// Reaper CPU from the phase's start until then (all of the phase's
        /// when it did not recover).
        public var recoveryReaperCPUSeconds: Double
    }

    /// The adaptivity figures (the metric catalogue's), over the phase
    /// changes (the phases after the first): the longest recovery of those
    /// that recovered (nil: a single phase, or none recovered), how many
    /// ended unrecovered, the garbage and RSS peaks over the series, and
    /// the reaper CPU spent catching up.
    public var worstRecoverySeconds: Double?
    public var unrecoveredChanges: Int
    public var garbagePeak: Int
    public var rssPeakBytes: Int
    public var catchUpReaperCPUSeconds: Double

    /// The series as the run's samples (for the sweep's over-time plots):
    /// virtual time, live, the reaper's interval, and garbage over live as
    /// the expired ratio.
    public var asSamples: [Harness.Sample] {
        series.map { s in
            Harness.Sample(wallSeconds: s.tableSeconds, virtualSeconds: s.virtualSeconds, packets: s.packets, pps: 0, live: s.live,
                   reaperInterval: s.reaperIntervalSeconds, expiredRatio: s.live > 0 ? Double(s.garbage) / Double(s.live) : 0,
                   contendedPerMillion: 0, fractionDone: 1)
        }
    }

    public init(name: String, summary: String, timeScale: Double, sampleSeconds: Double, monitorSeconds: Double,
                garbageSampledShare: Double = 1, garbageExactUpTo: Int = 0, phases: [Phase], series: [Sample]) {
        self.name = name; self.summary = summary; self.timeScale = timeScale; self.sampleSeconds = sampleSeconds
        self.monitorSeconds = monitorSeconds; self.garbageSampledShare = garbageSampledShare
        self.garbageExactUpTo = garbageExactUpTo; self.phases = phases; self.series = series
        let changes = phases.dropFirst()
        worstRecoverySeconds = changes.compactMap(\.recoverySeconds).max()
        unrecoveredChanges = changes.filter { $0.recoverySeconds == nil }.count
        garbagePeak = series.map(\.garbage).max() ?? 0
        rssPeakBytes = series.map(\.rssBytes).max() ?? 0
        catchUpReaperCPUSeconds = changes.reduce(0) { $0 + $1.recoveryReaperCPUSeconds }
    }
}
