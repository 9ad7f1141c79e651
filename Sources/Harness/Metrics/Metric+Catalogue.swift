import ConnTrack

/// The catalogue: every figure the reports, `compare`, `sweep`, `diff` and
/// `--repeats` show, each declared once. `docs/metrics.md` is checked
/// against it by a test.
extension Metric {
    // MARK: Throughput and latency (timing)

    public static let packetsPerSecond = Metric(
        "packetsPerSecond", name: "packets/s", unit: "packets/s", jsonKey: "packetsPerSecond", kind: .timing,
        higherIsBetter: true, scale: 1e6, digits: 2, suffix: " M",
        summary: "packets over the table time (generation and reading excluded)") { $0.packetsPerSecond }
    public static let latencyP50 = Metric(
        "latencyNanos.p50", name: "latency p50", unit: "ns", jsonKey: "latencyNanos.p50", kind: .timing,
        higherIsBetter: false, summary: "median time of one packet in the table (one packet in N timed)") { $0.latencyNanos.p50 }
    public static let latencyP99 = Metric(
        "latencyNanos.p99", name: "latency p99", unit: "ns", jsonKey: "latencyNanos.p99", kind: .timing,
        higherIsBetter: false, summary: "99th percentile of the sampled per-packet time") { $0.latencyNanos.p99 }
    /// RFC 9693's established-flow rate as this stream drives it.
    public static let establishedLookupRate = Metric(
        "establishedLookupsPerSecond", name: "established lookups/s", unit: "lookups/s", jsonKey: nil, kind: .timing,
        higherIsBetter: true, scale: 1e6, digits: 3, suffix: " M",
        summary: "lookups that found their connection, over the table time (RFC 9693's established-flow rate)") {
        rate($0.found, $0)
    }
    /// RFC 9693's connection set-up rate.
    public static let setupRate = Metric(
        "setupsPerSecond", name: "set-ups/s", unit: "connections/s", jsonKey: nil, kind: .timing,
        higherIsBetter: true, scale: 1e6, digits: 3, suffix: " M",
        summary: "connections created, over the table time (RFC 9693's set-up rate)") { rate($0.created, $0) }
    /// RFC 9693's teardown rate.
    public static let teardownRate = Metric(
        "teardownsPerSecond", name: "teardowns/s", unit: "connections/s", jsonKey: nil, kind: .timing,
        higherIsBetter: true, scale: 1e6, digits: 3, suffix: " M",
        summary: "connections removed (inline, by the reaper, by early drop), over the table time (RFC 9693's teardown rate)") {
        rate($0.removedInline + $0.removedByReaper + $0.removedOther, $0)
    }
    public static let tableSeconds = Metric(
        "tableSeconds", name: "table time", unit: "s", jsonKey: "tableSeconds", kind: .timing, higherIsBetter: false,
        digits: 3, suffix: " s", summary: "wall time the workers spent in the table phase") { $0.tableSeconds }
    public static let generationSeconds = Metric(
        "generationSeconds", name: "generation time", unit: "s", jsonKey: "generationSeconds", kind: .timing,
        higherIsBetter: false, digits: 3, suffix: " s", summary: "wall time spent generating packets (untimed work)") { $0.generationSeconds }
    public static let wallSeconds = Metric(
        "wallSeconds", name: "wall time", unit: "s", jsonKey: "wallSeconds", kind: .timing, higherIsBetter: false,
        digits: 3, suffix: " s", summary: "wall time of the whole run") { $0.wallSeconds }

    // MARK: CPU (timing)

    public static let cpusUtilized = Metric(
        "cpu.cpusUtilized", name: "CPUs utilised", unit: "CPUs", jsonKey: "cpu.cpusUtilized", kind: .timing,
        higherIsBetter: nil, digits: 2, summary: "process CPU time over the table phase's wall time") { $0.cpu.cpusUtilized }
    public static let lowestWorkerCPUShare = Metric(
        "lowestWorkerCPUShare", name: "worker CPU while runnable", unit: "%", jsonKey: nil, kind: .timing,
        higherIsBetter: true, digits: 0, suffix: " %",
        summary: "the lowest worker's share of a CPU while it could run (below 80 % the run is flagged starved; a worker busy under 50 ms is not judged)") {
        $0.cpu.workers.map(\.cpuShareWhileBusy).min().map { $0 * 100 }
    }
    public static let reaperCPUSeconds = Metric(
        "cpu.reaperCPUSeconds", name: "reaper cpu", unit: "s", jsonKey: "cpu.reaperCPUSeconds", kind: .timing,
        higherIsBetter: false, digits: 3, suffix: " s", summary: "CPU time of the thread(s) that ran reaper passes, during the passes") {
        $0.cpu.reaperCPUSeconds
    }
    public static let reaperBusySeconds = Metric(
        "reaperBusySeconds", name: "reaper busy", unit: "s", jsonKey: "reaperBusySeconds", kind: .timing,
        higherIsBetter: false, digits: 3, suffix: " s", summary: "wall time spent in reaper passes") { $0.reaperBusySeconds }
    /// In lock-step and deterministic runs the reaper's passes run while
    /// every worker waits, so its time is serial, except the scans split
    /// across the waiting workers; a free-running or real-clock reaper runs
    /// beside the workers (0 here).
    public static let reaperSerialShare = Metric(
        "reaperSerialShare", name: "reaper serial share", unit: "%", jsonKey: nil, kind: .timing, higherIsBetter: false,
        digits: 1, suffix: " %", summary: "reaper pass time while every worker but one waited, over the table time (lock-step and deterministic runs; scans and removals split across the workers are not serial)") {
        guard $0.tableSeconds > 0 else { return nil }
        let serial = $0.determinism.mode == "windowed" || $0.determinism.mode == "deterministic"
        let alone = max(0, $0.reaperBusySeconds - ($0.cpu.reaperSplitScanSeconds ?? 0))
        return serial ? min(100, alone / $0.tableSeconds * 100) : 0
    }
    public static let reaperPauseP99 = Metric(
        "reaperPauseMicros.p99", name: "reaper pause p99", unit: "µs", jsonKey: "reaperPauseMicros.p99", kind: .timing,
        higherIsBetter: false, digits: 1, suffix: " µs", summary: "99th percentile of one reaper pass's wall time") { $0.reaperPauseMicros.p99 }

    // MARK: Contention (timing: scheduling decides who waits)

    public static let contendedPercent = Metric(
        "contendedPercent", name: "contended locks %", unit: "%", jsonKey: nil, kind: .timing, higherIsBetter: false,
        digits: 3, summary: "acquisitions of bucket/stripe, connection and table locks that found the lock held (the one definition of contention)") {
        Contention.percent($0)
    }
    public static let lockWaitMillis = Metric(
        "lockWaitMillis", name: "lock wait", unit: "ms", jsonKey: nil, kind: .timing, higherIsBetter: false,
        digits: 3, suffix: " ms", summary: "time blocked on contended locks, all kinds, all workers") {
        $0.bucketLocks.waitMillis + $0.connectionLocks.waitMillis + $0.tableLock.waitMillis
    }

    // MARK: Memory (timing: process-wide, allocator-dependent)

    public static let peakRSS = Metric(
        "memory.peakRSSBytes", name: "peak RSS", unit: "B", jsonKey: "memory.peakRSSBytes", kind: .timing,
        higherIsBetter: false, scale: 1_048_576, digits: 1, suffix: " MiB", summary: "peak resident set size of the process") {
        Double($0.memory.peakRSSBytes)
    }
    public static let tableHeapBytes = Metric(
        "memory.tableHeapBytes", name: "table heap", unit: "B", jsonKey: "memory.tableHeapBytes", kind: .timing,
        higherIsBetter: false, scale: 1_048_576, digits: 1, suffix: " MiB",
        summary: "heap growth since the table was created, with the memory the table maps itself") { Double($0.memory.tableHeapBytes) }
    public static let bytesPerConnection = Metric(
        "memory.bytesPerConnection", name: "bytes per connection", unit: "B", jsonKey: "memory.bytesPerConnection",
        kind: .timing, higherIsBetter: false, summary: "table heap over the connections in the table at the end") {
        $0.memory.bytesPerConnection
    }

    // MARK: conntrack -S counters

    public static let packets = counter("packets", "packets", unit: "packets", kind: .deterministic,
                                        summary: "packets processed (after warm-up)") { Double($0.packets) }
    public static let lookups = counter("lookups", "lookups", unit: "lookups", kind: .deterministic,
                                        summary: "table lookups (the 2020 variant looks a new flow up twice)") { Double($0.lookups) }
    public static let found = counter("found", "found", unit: "lookups", conntrack: "found", kind: .bounded(.connections),
                                      summary: "lookups that found a connection") { Double($0.found) }
    public static let notFound = counter("notFound", "not found", unit: "lookups", kind: .bounded(.connections),
                                         summary: "lookups that found none") { Double($0.notFound) }
    public static let foundPercent = Metric(
        "foundPercent", name: "found %", unit: "%", jsonKey: nil, kind: .bounded(.connections), higherIsBetter: nil,
        digits: 2, summary: "found over lookups") { $0.lookups > 0 ? Double($0.found) * 100 / Double($0.lookups) : nil }
    public static let insert = counter("insert", "insert", conntrack: "insert", kind: .bounded(.connections),
                                       summary: "connections inserted") { Double($0.insert) }
    public static let insertClash = counter("insertClash", "insert clash", kind: .bounded(.connections),
                                            summary: "inserts whose re-check found the tuple already there") { Double($0.insertClash) }
    public static let insertFailed = counter("insertFailed", "insert_failed", conntrack: "insert_failed", kind: .bounded(.connections),
                                             summary: "inserts refused: the reply tuple belonged to another connection, or the chain was too long") {
        Double($0.insertFailed)
    }
    public static let drop = counter("drop", "drop", conntrack: "drop", kind: .bounded(.connections),
                                     summary: "new connections refused at the limit (or a full index)") { Double($0.drop) }
    public static let earlyDrop = counter("earlyDrop", "early_drop", conntrack: "early_drop", kind: .bounded(.connections),
                                          summary: "connections evicted to make room at the limit") { Double($0.earlyDrop) }
    public static let searchRestart = counter("searchRestart", "search_restart", unit: "lookups", conntrack: "search_restart",
                                              kind: .bounded(.events),
                                              summary: "lock-free lookups restarted because a writer changed the chain") { Double($0.searchRestart) }
    public static let chainTooLong = counter("chainTooLong", "chaintoolong", conntrack: "chaintoolong", kind: .bounded(.connections),
                                             summary: "inserts refused because a chain was longer than the insert's random limit (linux)") {
        Double($0.chainTooLong ?? 0)
    }
    public static let invalid = counter("invalid", "invalid", unit: "packets", conntrack: "invalid", kind: .bounded(.events),
                                        summary: "packets the tracker refused as invalid (linux)") { Double($0.invalid ?? 0) }
    public static let created = counter("created", "created", kind: .bounded(.connections),
                                        summary: "connections created") { Double($0.created) }
    public static let removedInline = counter("removedInline", "removed inline", kind: .bounded(.connections),
                                              summary: "expired connections removed by a packet's lookup walk") { Double($0.removedInline) }
    public static let removedByReaper = counter("removedByReaper", "removed by reaper", kind: .bounded(.connections),
                                                summary: "expired connections removed by reaper passes") { Double($0.removedByReaper) }
    public static let removedOther = counter("removedOther", "removed by early drop", kind: .bounded(.connections),
                                             summary: "connections removed by early drop") { Double($0.removedOther) }
    public static let deferredByLockOrder = counter(
        "deferredByLockOrder", "deferred by lock order", unit: "events", kind: .bounded(.events),
        summary: "expired tuples passed while the partner's bucket was lower (left for a later walk)") { Double($0.deferredByLockOrder) }
    public static let live = counter("live", "live at end", kind: .bounded(.connections),
                                     summary: "connections in the table at the end (created − removed)") { Double($0.live) }
    public static let livePeak = counter("livePeak", "live peak", kind: .bounded(.connections),
                                         summary: "the most connections held at once") { Double($0.livePeak) }
    public static let tuplesAtEnd = counter("tuplesAtEnd", "tuples at end", unit: "tuples", kind: .bounded(.connections),
                                            summary: "tuples linked in the table at the end") { Double($0.tuplesAtEnd) }
    public static let expiredStillLinked = counter(
        "expiredStillLinkedAtEnd", "expired still linked", kind: .bounded(.connections),
        summary: "expired connections still in the table at the end") { Double($0.expiredStillLinkedAtEnd) }
    public static let expiredSurvivingFullSweep = counter(
        "expiredSurvivingFullSweep", "expired after full sweep", kind: .deterministic,
        summary: "expired connections left after one extra full reaper sweep at the end (0 for a correct walk)") {
        Double($0.expiredSurvivingFullSweep)
    }
    public static let trackerInit = counter("trackerInit", "tracker init", unit: "packets", kind: .bounded(.connections),
                                            summary: "packets that initialised a TCP tracker") { Double($0.trackerInit) }

    /// One counter per tracker result ("trackerResults.alive", …).
    public static let trackerResults: [Metric] = TrackerResult.allCases.map { result in
        let key = ReportFormatter.trackerKey(result)
        return Metric("trackerResults." + key, name: "tracker " + ReportFormatter.trackerLabel(result), unit: "packets",
                      jsonKey: "trackerResults." + key, kind: .bounded(.connections), higherIsBetter: nil,
                      summary: "packets whose tracker result was \(ReportFormatter.trackerLabel(result))") {
            $0.trackerResults[key].map { Double($0) }
        }
    }

    // MARK: Lists

    public static let chainP99 = counter("chainWalked.p99", "chain p99", unit: "tuples", kind: .deterministic,
                                         summary: "99th percentile of tuples walked per lookup") { $0.chainWalked.p99 }
    public static let chainMax = counter("chainWalked.max", "chain max", unit: "tuples", kind: .deterministic,
                                         summary: "most tuples walked by one lookup") { $0.chainWalked.max }
    public static let chainMean = Metric(
        "chainWalked.mean", name: "chain mean", unit: "tuples", jsonKey: "chainWalked.mean", kind: .deterministic,
        higherIsBetter: false, digits: 2, summary: "mean tuples walked per lookup") { $0.chainWalked.mean }
    public static let loadFactor = Metric(
        "loadFactor", name: "load factor", unit: "tuples per slot", jsonKey: nil, kind: .deterministic, higherIsBetter: nil,
        digits: 2, summary: "tuples at the end over the design's slots (buckets)") {
        $0.buckets > 0 ? Double($0.tuplesAtEnd) / Double($0.buckets) : nil
    }
    public static let emptyBucketsAtEnd = counter("emptyBucketsAtEnd", "empty buckets at end", unit: "buckets", kind: .deterministic,
                                                  summary: "buckets with no tuple at the end") { Double($0.emptyBucketsAtEnd) }

    // MARK: Locks (acquisitions follow the packets; contention is timing)

    public static let bucketLockAcquisitions = counter(
        "bucketLocks.acquisitions", "bucket lock acquisitions", unit: "acquisitions", kind: .deterministic,
        summary: "bucket (or stripe) lock acquisitions") { Double($0.bucketLocks.acquisitions) }
    public static let connectionLockAcquisitions = counter(
        "connectionLocks.acquisitions", "connection lock acquisitions", unit: "acquisitions", kind: .deterministic,
        summary: "connection lock acquisitions") { Double($0.connectionLocks.acquisitions) }
    public static let tableLockAcquisitions = counter(
        "tableLock.acquisitions", "table lock acquisitions", unit: "acquisitions", kind: .deterministic,
        summary: "table lock acquisitions") { Double($0.tableLock.acquisitions) }

    // MARK: Reaper

    public static let reaperPasses = counter("reaperPasses", "reaper passes", unit: "passes", kind: .bounded(.events),
                                             summary: "reaper passes run (walked or computed)") { Double($0.reaperPasses) }
    public static let reaperChecked = counter("reaperChecked", "reaper checked", unit: "tuples", kind: .deterministic,
                                              summary: "tuples the reaper's passes checked") { Double($0.reaperChecked) }
    public static let reaperExpired = counter("reaperExpired", "reaper expired events", unit: "tuples", kind: .deterministic,
                                              summary: "expired tuples the reaper's passes met") { Double($0.reaperExpired) }
    public static let reaperPassesDue = counter("reaperHealth.passesDue", "reaper passes due", unit: "passes", kind: .bounded(.events),
                                                summary: "passes whose due time fell within the run") {
        $0.reaperHealth.map { Double($0.passesDue) }
    }
    public static let virtualSeconds = Metric(
        "virtualSeconds", name: "virtual time", unit: "s", jsonKey: "virtualSeconds", kind: .deterministic, higherIsBetter: nil,
        digits: 1, suffix: " s", summary: "virtual time the packets covered") { $0.virtualSeconds }

    // MARK: Workloads (nil: not a workload run)

    public static let worstRecovery = Metric(
        "workload.worstRecoverySeconds", name: "worst recovery", unit: "s", jsonKey: nil,
        kind: .deterministic, higherIsBetter: false, digits: 1, suffix: " s", infinity: "never",
        summary: "the longest time, over the phases after the first, from a phase's start until garbage (expired connections still linked) was back at or under 5 % of live for the rest of the phase; never: a phase ended over it (JSON: workload.worstRecoverySeconds and workload.unrecoveredChanges)") {
        $0.workload.flatMap { w in w.phases.count > 1 ? (w.unrecoveredChanges > 0 ? .infinity : w.worstRecoverySeconds) : nil }
    }
    public static let garbagePeak = Metric(
        "workload.garbagePeak", name: "peak garbage", unit: "connections", jsonKey: "workload.garbagePeak",
        kind: .deterministic, higherIsBetter: false,
        summary: "the most expired connections still linked at any sample") { $0.workload.map { Double($0.garbagePeak) } }
    public static let workloadRSSPeak = Metric(
        "workload.rssPeakBytes", name: "peak RSS in the run", unit: "B", jsonKey: "workload.rssPeakBytes", kind: .timing,
        higherIsBetter: false, scale: 1_048_576, digits: 1, suffix: " MiB",
        summary: "the most resident memory at any of the workload's samples: this run's peak, where the process's peak RSS "
            + "(memory.peakRSSBytes) is every earlier run's too in compare and sweep; memory an earlier run freed and the "
            + "allocator kept still counts") { $0.workload.map { Double($0.rssPeakBytes) } }
    public static let catchUpReaperCPU = Metric(
        "workload.catchUpReaperCPUSeconds", name: "catch-up reaper cpu", unit: "s", jsonKey: "workload.catchUpReaperCPUSeconds",
        kind: .timing, higherIsBetter: false, digits: 3, suffix: " s",
        summary: "reaper CPU from each phase change until garbage was back under 5 % of live (the whole phase when it never was), summed over the changes") {
        $0.workload.map(\.catchUpReaperCPUSeconds)
    }

    // MARK: Paced runs (`--rate`; timing: the wall clock decides what arrives when)

    public static let ringDrops = Metric(
        "paced.dropped", name: "ring drops", unit: "packets", jsonKey: "paced.dropped", kind: .timing,
        higherIsBetter: false, summary: "packets that found their worker's receive ring full and never reached the table") {
        $0.paced.map { Double($0.dropped) }
    }
    public static let ringHighWater = Metric(
        "paced.highWater", name: "ring high-water", unit: "descriptors", jsonKey: "paced.highWater", kind: .timing,
        higherIsBetter: false, summary: "the most packets any worker's receive ring held") { $0.paced.map { Double($0.highWater) } }
    public static let queueingP99 = Metric(
        "paced.queueingNanos.p99", name: "queueing p99", unit: "ns", jsonKey: "paced.queueingNanos.p99", kind: .timing,
        higherIsBetter: false, summary: "99th percentile of the time from a packet's arrival to its worker taking it from the ring") {
        $0.paced.map(\.queueingNanos.p99)
    }
    public static let queueingMax = Metric(
        "paced.queueingNanos.max", name: "queueing max", unit: "ns", jsonKey: "paced.queueingNanos.max", kind: .timing,
        higherIsBetter: false, summary: "the longest any packet waited in a ring") { $0.paced.map(\.queueingNanos.max) }
    public static let longestPause = Metric(
        "paced.longestPause.nanos", name: "longest pause", unit: "ns", jsonKey: "paced.longestPause.nanos", kind: .timing,
        higherIsBetter: false, summary: "the longest batch, or late wake-up, of any worker: the time its ring went unserved (its cause is in the report)") {
        $0.paced?.longestPause.map { Double($0.nanos) }
    }

    // MARK: Operations on the running table (`--op`; timing)

    private static func ops(_ r: RunReport) -> [OperationReport]? {
        r.operations.flatMap { $0.operations.isEmpty ? nil : $0.operations }
    }
    public static let longestOperation = Metric(
        "operations.longestMillis", name: "longest operation", unit: "ms", jsonKey: nil, kind: .timing,
        higherIsBetter: false, digits: 3, suffix: " ms",
        summary: "the longest operation's own duration (a dump's walk, a flush, a resize), over the run's --op operations") {
        ops($0).map { $0.map(\.durationMillis).max()! }
    }
    public static let packetsPerSecondDuringOperation = Metric(
        "operations.lowestPacketsPerSecondDuring", name: "packets/s during an operation", unit: "packets/s", jsonKey: nil,
        kind: .timing, higherIsBetter: true, scale: 1e6, digits: 2, suffix: " M",
        summary: "the workers' packets per second while an operation ran, the lowest over the run's operations") {
        ops($0).map { $0.map(\.packetsPerSecondDuring).min()! }
    }
    public static let latencyMaxDuringOperation = Metric(
        "operations.latencyMaxDuring", name: "latency max during an operation", unit: "ns", jsonKey: nil, kind: .timing,
        higherIsBetter: false, summary: "the longest sampled packet latency while any operation ran") {
        ops($0)?.compactMap { $0.latencyDuring?.max }.max()
    }
    public static let operationLockWait = Metric(
        "operations.workerLockWaitMillis", name: "lock wait for operations", unit: "ms", jsonKey: nil, kind: .timing,
        higherIsBetter: false, digits: 3, suffix: " ms",
        summary: "what the workers waited for locks while operations ran (and 60 ms after each), summed") {
        ops($0).map { $0.reduce(0) { $0 + $1.workerLockWaitMillis } }
    }

    /// What `compare --workload` and `sweep --workload` show: the recovery
    /// figures, peak memory, and the reaper's and the table's cost.
    public static let workloadFigures: [Metric] = [
        worstRecovery, garbagePeak, workloadRSSPeak, catchUpReaperCPU, reaperCPUSeconds, packetsPerSecond, latencyP99,
        insertFailed, earlyDrop,
    ]

    /// Every figure, in the order the documentation lists them.
    public static let catalogue: [Metric] = [
        packetsPerSecond, latencyP50, latencyP99, establishedLookupRate, setupRate, teardownRate,
        tableSeconds, generationSeconds, wallSeconds,
        cpusUtilized, lowestWorkerCPUShare, reaperCPUSeconds, reaperBusySeconds, reaperSerialShare, reaperPauseP99,
        contendedPercent, lockWaitMillis,
        peakRSS, tableHeapBytes, bytesPerConnection,
        packets, lookups, found, notFound, foundPercent, insert, insertClash, insertFailed, drop, earlyDrop, searchRestart,
        chainTooLong, invalid, created, removedInline, removedByReaper, removedOther, deferredByLockOrder, live, livePeak, tuplesAtEnd,
        expiredStillLinked, expiredSurvivingFullSweep, trackerInit,
    ] + trackerResults + [
        chainP99, chainMax, chainMean, loadFactor, emptyBucketsAtEnd,
        bucketLockAcquisitions, connectionLockAcquisitions, tableLockAcquisitions,
        reaperPasses, reaperChecked, reaperExpired, reaperPassesDue, virtualSeconds,
        worstRecovery, garbagePeak, workloadRSSPeak, catchUpReaperCPU,
        ringDrops, ringHighWater, queueingP99, queueingMax, longestPause,
        longestOperation, packetsPerSecondDuringOperation, latencyMaxDuringOperation, operationLockWait,
    ]

    /// The figure with this id.
    public static func named(_ id: String) -> Metric? { catalogue.first { $0.id == id } }

    /// Counters (deterministic or bounded), in catalogue order.
    public static var counters: [Metric] { catalogue.filter(\.kind.isCounter) }

    /// The figures `diff` judges for a regression: a change beyond the
    /// threshold with spreads that do not overlap fails the comparison.
    public static let regressionGates: [Metric] = [packetsPerSecond, latencyP99]

    private static func rate(_ count: UInt64, _ r: RunReport) -> Double {
        Double(count) / max(1e-9, r.tableSeconds)
    }
}
