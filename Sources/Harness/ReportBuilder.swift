import CAllocStats
import ConnTrack
import Histogram

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

    static func build<T: ConnTrackTable>(table: T, reaper: Reaper<T>, cfg: RunConfig, ctxs: [WorkerContext],
                                         shared: [WorkerShared], tableNanos: Int64, generationNanos: Int64,
                                         wallNanos: Int64, livePeak: Int64, endTime: Int64) -> RunReport {
        var s = TableStats()
        for c in ctxs { s.merge(c.stats) }
        let r = reaper.snapshot()
        var all = s
        all.merge(r.stats)
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for w in shared { latency.add(w.latency) }
        let lengths = table.bucketLengths()
        let contention = table.bucketContention()
        let hottest = contention.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }.prefix(5)
            .map { [UInt64($0.offset), $0.element] }
        var allocated = 0, active = 0, resident = 0
        let isJemalloc = ct_alloc_stats(&allocated, &active, &resident) == 1
        let liveNow = max(1, Int64(all.created) - Int64(all.removed))
        let alloc = AllocatorStats(allocator: isJemalloc ? "jemalloc" : "glibc", allocatedBytes: allocated,
                                   activeBytes: active, residentBytes: resident,
                                   bytesPerLiveConnection: Double(allocated) / Double(liveNow),
                                   fragmentation: active > 0 ? 1 - Double(allocated) / Double(active) : 0)
        var inv = table._checkInvariants(uniqueIDs: nil)
        let expiredAtEnd = table.expiredCount(now: endTime)
        // "Every expired connection is eventually removed": one full sweep
        // from bucket 0 must remove them all unless the walk stops early.
        var sweepCtx = WorkerContext(name: "final-sweep", checkLockOrder: cfg.checkLockOrder)
        _ = table.reapPass(start: 0, maxBuckets: table.bucketCount, maxEvictions: .max, now: endTime, &sweepCtx)
        let survivors = table.expiredCount(now: endTime)
        let expectComplete = cfg.design == .globalLock || cfg.table.variant == .fixed
        if survivors > 0 && expectComplete {
            inv.violations.append("\(survivors) expired connections survived a full reaper sweep")
        }
        let results = Dictionary(uniqueKeysWithValues: TrackerResult.allCases.map { ("\($0)", s.trackerResults[Int($0.rawValue)]) })
        let chain = s.chain
        let pkts = s.packets
        let tableSec = Double(tableNanos) / 1e9
        let perWorker = shared.map { w -> Double in
            let sec = tableSec
            return sec > 0 ? Double(w.processed) / sec : 0
        }
        let violations = (ctxs.flatMap { $0.locks.violations } + reaper.violations).map(\.description)
        return RunReport(
            design: cfg.design.rawValue, variant: cfg.design == .buckets ? cfg.table.variant.rawValue : "fixed",
            scenario: cfg.scenario.scenario.rawValue, buckets: table.bucketCount, threads: ctxs.count,
            clock: cfg.clock.rawValue, deterministic: cfg.deterministic,
            hashSeed: (table as? BucketTable)?.seed ?? cfg.table.hashSeed ?? 0, flowSeed: cfg.scenario.seed,
            policy: cfg.reaperEnabled ? cfg.policy.name : "off", faults: cfg.table.faults.map(\.rawValue).sorted(),
            packets: pkts, tableSeconds: tableSec, generationSeconds: Double(generationNanos) / 1e9,
            wallSeconds: Double(wallNanos) / 1e9, packetsPerSecond: tableSec > 0 ? Double(pkts) / tableSec : 0,
            perWorkerPacketsPerSecond: perWorker, virtualSeconds: Double(endTime) / 1e9,
            lookups: s.lookups, found: s.found, notFound: s.notFound, insert: s.insert, insertClash: s.insertClash,
            insertFailed: s.insertFailed, drop: s.drop, earlyDrop: s.earlyDrop, searchRestart: s.searchRestart,
            created: s.created, removedInline: all.removedInline, removedByReaper: all.removedByReaper,
            removedOther: all.removedOther, deferredByLockOrder: all.deferredByLockOrder,
            live: Int64(all.created) - Int64(all.removed), livePeak: max(livePeak, Int64(all.created) - Int64(all.removed)),
            tuplesAtEnd: inv.tuples, expiredStillLinkedAtEnd: expiredAtEnd, expiredSurvivingFullSweep: survivors,
            trackerInit: s.trackerInit, trackerResults: results,
            chainWalked: Distribution(count: chain.samples, p50: Double(chain.percentile(50)), p99: Double(chain.percentile(99)),
                                      max: Double(chain.max), mean: chain.samples > 0 ? Double(chain.total) / Double(chain.samples) : 0),
            occupancyAtEnd: dist(lengths.map(Double.init)), emptyBucketsAtEnd: lengths.filter { $0 == 0 }.count,
            bucketLocks: LockReport(all.bucketLock), connectionLocks: LockReport(all.connLock), tableLock: LockReport(all.tableLock),
            hottestBuckets: Array(hottest),
            reaperPasses: r.passes, reaperChecked: r.history.reduce(0) { $0 + $1.checked },
            reaperExpired: r.history.reduce(0) { $0 + $1.expired },
            reaperIntervalsMillis: r.history.map { Double($0.interval) / 1e6 },
            reaperPauseMicros: dist(r.history.map { Double($0.durationNanos) / 1e3 }),
            reaperBusySeconds: Double(r.history.reduce(Int64(0)) { $0 + $1.durationNanos }) / 1e9,
            latencyNanos: latency.totalCount > 0
                ? Distribution(count: latency.totalCount, p50: Double(latency.valueAtPercentile(50)), p99: Double(latency.valueAtPercentile(99)),
                               max: Double(latency.max), mean: latency.mean)
                : Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0),
            latencySampleEvery: cfg.latencySampleEvery,
            counterOverheadNote: "counters are plain increments in a per-worker struct, published once per batch under a per-worker mutex; their cost has not been measured separately yet",
            allocator: alloc, invariants: inv.description, lockOrderViolations: violations)
    }
}
