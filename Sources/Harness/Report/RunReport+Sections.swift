import ConnTrack

/// Where the packets came from.
public struct SourceReport: Codable, Sendable, Equatable {
    /// "scenario", "workload" or "pcap".
    public var kind: String
    /// Scenario name (scenario runs).
    public var scenario: String?
    public var flows: Int?
    public var flowSeed: UInt64?
    /// Workload name and the factor its phases were stretched by
    /// (workload runs).
    public var workload: String? = nil
    public var timeScale: Double? = nil
    /// Capture file and what its records became (pcap runs).
    public var file: String?
    public var recordsRead: Int?
    public var packetsUsed: Int?
    /// Records skipped, by reason: "non-IP", "fragment", "other protocol", "malformed".
    public var skipped: [String: Int]?
    /// Packets out of timestamp order in the file (replayed in order).
    public var outOfOrder: Int?
}

/// CPU accounting in the manner of `perf stat`.
public struct CPUReport: Codable, Sendable, Equatable {
    public struct Worker: Codable, Sendable, Equatable {
        /// Packets this worker processed.
        public var packets: Int
        /// Wall time the worker spent processing (not waiting at barriers).
        public var busySeconds: Double
        /// CPU time of the worker thread while it processed
        /// (CLOCK_THREAD_CPUTIME_ID; in windowed runs measured on one window
        /// in eight and scaled to the busy time).
        public var cpuSeconds: Double
        /// Time blocked on contended locks (counted in busy time).
        public var lockWaitSeconds: Double
        /// Packets over the worker's own busy time.
        public var packetsPerBusySecond: Double
        /// CPU it got while busy ÷ (busy time − lock waits): 1.0 means never
        /// descheduled while it could run.
        public var cpuShareWhileBusy: Double
        /// Waits at lock-step barriers and in the reaper team that did not
        /// end at once, and of them those that spun out their budget and
        /// parked; the time spent spinning and parked (waiting, not busy).
        /// nil in reports written before waits were counted.
        public var waits: Int? = nil
        public var parkedWaits: Int? = nil
        /// Of the waits, those that spun only briefly because the worker
        /// was being preempted (a busy machine, `Waiter`). nil in reports
        /// written before they were counted.
        public var shortSpinWaits: Int? = nil
        public var waitSpinSeconds: Double? = nil
        public var waitParkedSeconds: Double? = nil
        /// From the scheduler (/proc/thread-self/schedstat): the worker
        /// thread's time on a CPU, and its time runnable but queued for
        /// one. nil where the kernel does not keep them.
        public var onCPUSeconds: Double? = nil
        public var runQueueSeconds: Double? = nil
    }
    /// Something that makes the run's figures say more about the machine
    /// than about the design, and why (`kind`: "busy-machine",
    /// "oversubscribed", "waited-on-descheduled").
    public struct Flag: Codable, Sendable, Equatable {
        public var kind: String
        public var reason: String
    }
    public var workers: [Worker]
    /// CPU time of the thread(s) that ran reaper passes, during the passes.
    public var reaperCPUSeconds: Double
    /// Process CPU time (user + system) over the table phase.
    public var processCPUSeconds: Double
    /// Wall time of the table phase (all rounds, incl. generation between them).
    public var phaseWallSeconds: Double
    /// processCPUSeconds ÷ phaseWallSeconds.
    public var cpusUtilized: Double
    public var voluntaryContextSwitches: Int
    public var involuntaryContextSwitches: Int
    /// A worker got less than `starvedBelow` of the CPU while it was busy.
    public var starved: Bool
    public var starvedBelow: Double
    /// Wall time of reaper work split across the workers waiting at
    /// lock-step boundaries (every worker busy, none idle): the scans of
    /// split passes, and the removals of those walked in parts; the passes
    /// split so, and of them those whose removals were walked in parts
    /// (`fast`); nil in reports written before passes (or their removals)
    /// were split.
    public var reaperSplitScanSeconds: Double? = nil
    public var reaperSplitPasses: Int? = nil
    public var reaperSplitWalks: Int? = nil
    /// Slots those scans tallied, and slots their passes reached: a scan
    /// runs in rounds, and the last round of a pass its eviction cap
    /// stops tallies slots past the stop. nil in reports written before.
    public var reaperSplitSlotsScanned: Int? = nil
    public var reaperSplitSlotsReached: Int? = nil
    /// CPUs online, and over the table phase the CPU time other processes
    /// took (the machine's busy time in /proc/stat less this process's)
    /// and the hypervisor's steal, each over the phase's wall time (nil:
    /// not known here, or reports written before).
    public var onlineCPUs: Int? = nil
    public var otherProcessesCPUs: Double? = nil
    public var stealCPUs: Double? = nil
    /// The workers' run-queue time over their time runnable (on a CPU or
    /// queued for one): the share of the CPU they wanted and did not get.
    public var workerRunQueueShare: Double? = nil
    /// At most this much of the workers' waiting was for a party queued
    /// for a CPU: for each worker, the lesser of its waits and the other
    /// workers' run-queue time.
    public var waitedOnDescheduledSeconds: Double? = nil
    /// Spinning in waits, every worker together (CPU time, not work).
    public var waitSpinSeconds: Double? = nil
    /// What distorted the run (empty: nothing found); nil in reports
    /// written before.
    public var flags: [Flag]? = nil

    /// A run whose workers were queued for a CPU this share of the time
    /// they could run is flagged: on a quiet machine it stays under 2 %.
    public static let runQueueShareLimit = 0.10
    /// A run whose workers waited on queued parties for at least this
    /// share of their wall time is flagged.
    public static let waitedOnDescheduledLimit = 0.05
    /// Other processes (or the hypervisor) taking this many CPUs name the
    /// machine as the cause; less, the run's own threads.
    public static let otherCPUsCause = 0.25
}

/// How well the reaper kept to its schedule.
public struct ReaperHealth: Codable, Sendable, Equatable {
    /// A run is flagged when more than this share of its due passes ran
    /// more than one interval late or not at all.
    public static let behindLimit = 0.10

    /// Passes whose due time fell within the run.
    public var passesDue: Int
    public var passesRun: Int
    /// Passes that started more than one interval after they were due.
    public var passesLate: Int
    /// Largest and 99th-percentile lag behind schedule, run's clock.
    public var maxLagMillis: Double
    public var p99LagMillis: Double
    /// (late + not run) ÷ due.
    public var behindShare: Double
    public var behindLimit: Double
    public var flagged: Bool
    public var cpuSeconds: Double
    /// Passes computed from a sweep summary instead of walked: they found
    /// nothing expired during a gap without packets (nil in older reports).
    public var passesComputed: Int?
    /// Sweep summaries built for them (one can serve many gaps).
    public var summariesBuilt: Int?
}

/// How far the table-side counters depend on thread scheduling.
public struct DeterminismReport: Codable, Sendable, Equatable {
    /// "deterministic" (one worker, inline reaper), "windowed" (lock-step
    /// virtual-time windows), "free-running" (virtual time, no windows) or
    /// "real-time" (a real clock).
    public var mode: String
    /// Lock-step window, ms of virtual time (windowed mode).
    public var windowMillis: Double?
    /// Lock-step windows processed.
    public var windows: Int?
    /// The bound on differences between repeats with the same options and
    /// seeds (nil: no bound): connection counters (created, found, not
    /// found, removed inline and by the reaper, live, expired at the end,
    /// tracker results) by at most this share of the connections created;
    /// event counters (deferred by lock order, reaper passes) by at most
    /// this share of their own value.
    public var connectionCounterBound: Double?
    public var eventCounterBound: Double?
    public var statement: String

    /// Empirical bounds: the largest spread measured over every scenario,
    /// both variants and loads of 5 to 24 tuples per bucket was 0.073 % of
    /// connections created and 0.59 % of deferral events
    /// (`run --threads 2 --repeats N` prints each spread against them;
    /// docs/determinism.md).
    public static let windowedConnectionBound = 0.001
    public static let windowedEventBound = 0.01

    static func of(_ cfg: RunConfig, windows: Int) -> DeterminismReport {
        if cfg.deterministic {
            return DeterminismReport(mode: "deterministic", connectionCounterBound: 0, eventCounterBound: 0,
                                     statement: "one worker, stream order, reaper inline: every table counter is a function of the options and seeds")
        }
        switch cfg.clock {
        case .virtual where cfg.windowNanos > 0:
            let w = Double(cfg.windowNanos) / 1e6
            return DeterminismReport(
                mode: "windowed", windowMillis: w, windows: windows,
                connectionCounterBound: windowedConnectionBound, eventCounterBound: windowedEventBound,
                statement: "workers advance in lock-step windows of \(ReportFormatter.f(w, 1)) ms of virtual time" + (cfg.windowMinPackets > 0 && cfg.windowMaxNanos > cfg.windowNanos ? " (merged while they hold fewer than \(cfg.windowMinPackets) packets, up to \(ReportFormatter.f(Double(cfg.windowMaxNanos) / 1e6, 1)) ms: a packet is processed up to that long before its own time)" : "") + " and share one now per window; only the order of different workers' operations on one bucket within a window varies between repeats: connection counts (created, found, removed, live, expired, tracker results) differ by at most \(ReportFormatter.f(windowedConnectionBound * 100, 2)) % of the connections created, event counts (deferred by lock order, reaper passes) by at most \(ReportFormatter.f(windowedEventBound * 100, 1)) % (measured bounds, docs/determinism.md); chain lengths are not bounded")
        case .virtual:
            return DeterminismReport(mode: "free-running", statement: "--window-ms 0: workers drift apart in virtual time and reap each other's connections by their own clocks; counters depend on scheduling (no bound)")
        case .real, .coarse:
            return DeterminismReport(mode: "real-time", statement: "real clock: timeouts and the reaper follow wall time, so counters depend on speed and scheduling (no bound)")
        }
    }
}

/// Memory: the process's peak, the allocator's view, and the table's own.
public struct MemoryReport: Codable, Sendable, Equatable {
    /// "jemalloc" or "glibc".
    public var allocator: String
    public var allocatedBytes: Int
    public var activeBytes: Int
    public var residentBytes: Int
    /// 1 − allocated ÷ active.
    public var fragmentation: Double
    /// Peak resident set size of the process (getrusage).
    public var peakRSSBytes: Int
    /// Heap growth from just before the table was created to the end of
    /// the run: the table, plus the reaper's pass history, plus memory the
    /// table maps itself (`TableInspection.mappedBytes`).
    public var tableHeapBytes: Int
    /// tableHeapBytes ÷ connections in the table at the end (nil: none).
    public var bytesPerConnection: Double?
}
