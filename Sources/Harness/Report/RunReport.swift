import ConnTrack
import Sync

/// Lock counters in a report.
public struct LockReport: Codable, Sendable, Equatable {
    public var acquisitions: UInt64
    public var contended: UInt64
    public var waitMillis: Double
    init(_ c: LockCounters) {
        acquisitions = c.acquisitions; contended = c.contended; waitMillis = Double(c.waitNanos) / 1e6
    }
}

/// Percentiles of a distribution.
public struct Distribution: Codable, Sendable, Equatable {
    public var count: UInt64
    public var p50: Double
    public var p99: Double
    public var max: Double
    public var mean: Double
}

/// One time-series point (CSV row / progress line).
public struct Sample: Codable, Sendable {
    public var wallSeconds: Double
    public var virtualSeconds: Double
    public var packets: UInt64
    public var pps: Double
    public var live: Int64
    public var reaperInterval: Double
    public var expiredRatio: Double
    /// Contended lock acquisitions per million (`Contention`: every lock kind).
    public var contendedPerMillion: Double
    public var fractionDone: Double
    /// What the workers were doing: "generate" or "read" while any filled
    /// its buffer from its source, else "table" (nil in older reports).
    public var phase: String? = nil
}

/// Everything a run measured. `schemaVersion` changes when fields change
/// meaning; fields ending in `Seconds`/`Millis`/`PerSecond`/`Micros`/`Nanos`
/// are wall-clock and `allocator` is process-wide, so they vary between
/// identical runs; everything else is determined by the configuration in
/// deterministic mode.
public struct RunReport: Codable, Sendable {
    /// 2: typed `invariants`, `timeSeries`, optional `hashSeed`, `variant`
    /// as the design's label.
    public static let schemaVersion = 2
    public var schemaVersion = RunReport.schemaVersion
    /// The build, command, date and host that made the report (nil in
    /// reports written before it was recorded).
    public var provenance: Provenance? = nil
    /// Registry name of the design.
    public var design: String
    /// The variant, or the design's name when it has none.
    public var variant: String
    /// The scenario; nil for a replayed capture (see `source`).
    public var scenario: String?
    /// Slots the reaper divides the table into (buckets for the bucketed
    /// design), and what one is called; nil name: the design has none.
    public var buckets: Int
    public var slotName: String?
    public var threads: Int
    public var clock: String
    public var deterministic: Bool
    /// The hash seed in use; nil for a design that does not hash with one.
    public var hashSeed: UInt32?
    /// The generator's seed; nil for a replayed capture.
    public var flowSeed: UInt64?
    public var source: SourceReport
    public var policy: String
    public var faults: [String]

    // Throughput
    public var packets: UInt64
    public var tableSeconds: Double
    /// Wall time the workers spent filling their buffers (untimed): with
    /// overlapped generation, only their waits for the producer.
    public var generationSeconds: Double
    /// With overlapped generation, the producer threads' own time
    /// (the longest); nil when workers generated themselves.
    public var generationOverlappedSeconds: Double? = nil
    public var wallSeconds: Double
    public var packetsPerSecond: Double
    /// Each worker's packets over its own busy time.
    public var perWorkerPacketsPerSecond: [Double]
    public var virtualSeconds: Double

    // conntrack -S style
    public var lookups: UInt64
    public var found: UInt64
    public var notFound: UInt64
    public var insert: UInt64
    public var insertClash: UInt64
    public var insertFailed: UInt64
    public var drop: UInt64
    public var earlyDrop: UInt64
    public var searchRestart: UInt64
    /// conntrack -S `chaintoolong` and `invalid` (nil in reports saved
    /// before they were counted).
    public var chainTooLong: UInt64?
    public var invalid: UInt64?
    public var created: UInt64
    public var removedInline: UInt64
    public var removedByReaper: UInt64
    public var removedOther: UInt64
    public var deferredByLockOrder: UInt64
    public var live: Int64
    /// The most connections the table held at once: exact when the table
    /// counts it (global-lock; buckets with a connection limit), otherwise
    /// the largest value at a quiescent point (every window boundary in
    /// windowed runs, every chunk in deterministic runs, every sample in
    /// free-running ones).
    public var livePeak: Int64
    public var tuplesAtEnd: Int
    public var expiredStillLinkedAtEnd: Int
    /// Expired connections still linked after one extra full reaper sweep
    /// from bucket 0 at the end (0 for a correct walk; the 2020 walk leaves some).
    public var expiredSurvivingFullSweep: Int
    public var trackerInit: UInt64
    /// Packets per tracker result; gVisor's ResultDrop is "dropVerdict"
    /// (a verdict on one segment, not conntrack -S `drop`).
    public var trackerResults: [String: UInt64]

    // Lists
    public var chainWalked: Distribution
    public var occupancyAtEnd: Distribution
    public var emptyBucketsAtEnd: Int

    // Contention
    public var bucketLocks: LockReport
    public var connectionLocks: LockReport
    public var tableLock: LockReport
    public var hottestBuckets: [[UInt64]]

    // Reaper
    public var reaperPasses: Int
    public var reaperChecked: Int
    public var reaperExpired: Int
    public var reaperIntervalsMillis: [Double]
    public var reaperPauseMicros: Distribution
    /// Wall-clock time spent in reaper passes (the reaper's CPU cost).
    public var reaperBusySeconds: Double

    // Latency (sampled)
    public var latencyNanos: Distribution
    public var latencySampleEvery: Int
    public var counterOverheadNote: String

    /// The reaper's schedule against its execution (nil: reaper off).
    public var reaperHealth: ReaperHealth?
    public var cpu: CPUReport
    /// Memory at the end of the run (before teardown).
    public var memory: MemoryReport
    /// Reasons not to trust this run's figures (starved, reaper behind).
    public var warnings: [String]
    public var determinism: DeterminismReport
    /// The signal that stopped the run early ("SIGINT", "SIGTERM"); the
    /// figures cover the packets processed until then.
    public var interrupted: String?
    /// A soak's checks (nil: not a soak).
    public var soak: SoakReport?
    /// A workload run's phases and time series (nil: not a workload).
    public var workload: WorkloadReport? = nil
    /// A paced run's rings, drops, queueing and longest pause (`--rate`).
    public var paced: PacedReport? = nil
    /// Connections removed by operations on the running table (`--op
    /// flush`, `delete`); nil when none ran.
    public var removedByOperation: UInt64? = nil
    /// Operations run on the live table (`--op`), with their cost to the packets.
    public var operations: OperationsReport? = nil
    /// A run that started from a saved table: what was loaded and how long
    /// the import into the table took (wall clock).
    public var restoredConnections: Int?
    public var restoreSeconds: Double?
    /// Reading and checking the file before the run (wall clock).
    public var restoreLoadSeconds: Double?

    public var invariants: InvariantReport
    public var lockOrderViolations: [String]

    /// Samples taken during the run (empty unless sampling was asked for).
    public var timeSeries: [Sample]

    /// What the run's checks concluded; the CLI's exit code comes from it.
    public var outcome: RunOutcome {
        if !lockOrderViolations.isEmpty { return .lockOrderViolation }
        if !invariants.ok || soak?.failed == true { return .invariantViolation }
        return .ok
    }
}

/// The verdict of a run's checks.
public enum RunOutcome: String, Sendable, Codable {
    case ok
    case lockOrderViolation
    case invariantViolation

    /// The process exit code for this outcome.
    public var exitCode: Int32 {
        switch self {
        case .ok: ExitCode.success
        case .lockOrderViolation: ExitCode.lockOrderViolation
        case .invariantViolation: ExitCode.invariantViolation
        }
    }
}


