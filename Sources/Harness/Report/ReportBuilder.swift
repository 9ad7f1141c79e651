import CAllocStats
import ConnTrack
import Histogram

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

    static func build<T: ConnTrackTable>(_ env: RunEnvironment<T>, drive: DriveResult, inspection: TableInspection,
                                         checks: EndOfRunChecks, samples: [Sample], wallNanos: Int64) -> RunReport {
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
        let live = Int64(all.created) - Int64(all.removed)
        let alloc = AllocatorStats(allocator: isJemalloc ? "jemalloc" : "glibc", allocatedBytes: allocated,
                                   activeBytes: active, residentBytes: resident,
                                   bytesPerLiveConnection: Double(allocated) / Double(max(1, live)),
                                   fragmentation: active > 0 ? 1 - Double(allocated) / Double(active) : 0)
        let results = Dictionary(uniqueKeysWithValues: TrackerResult.allCases.map { ("\($0)", s.trackerResults[Int($0.rawValue)]) })
        let chain = s.chain
        let tableSec = Double(drive.tableNanos) / 1e9
        let perWorker = env.workers.map { w in tableSec > 0 ? Double(w.processed) / tableSec : 0 }
        let samplePeak = samples.map(\.live).max() ?? 0
        let violations = (drive.contexts.flatMap { $0.locks.violations } + env.reaper.violations).map(\.description)
        let traits = T.traits
        return RunReport(
            design: traits.name, variant: traits.label(cfg.table.variant),
            scenario: cfg.scenario.scenario.rawValue, buckets: table.sweepSlots, slotName: traits.slotName,
            threads: drive.contexts.count, clock: cfg.clock.rawValue, deterministic: cfg.deterministic,
            hashSeed: table.hashSeed, flowSeed: cfg.scenario.seed,
            policy: cfg.reaperEnabled ? cfg.policy.name : "off", faults: cfg.table.faults.map(\.rawValue).sorted(),
            packets: s.packets, tableSeconds: tableSec, generationSeconds: Double(drive.generationNanos) / 1e9,
            wallSeconds: Double(wallNanos) / 1e9, packetsPerSecond: tableSec > 0 ? Double(s.packets) / tableSec : 0,
            perWorkerPacketsPerSecond: perWorker, virtualSeconds: Double(drive.endTime) / 1e9,
            lookups: s.lookups, found: s.found, notFound: s.notFound, insert: s.insert, insertClash: s.insertClash,
            insertFailed: s.insertFailed, drop: s.drop, earlyDrop: s.earlyDrop, searchRestart: s.searchRestart,
            created: s.created, removedInline: all.removedInline, removedByReaper: all.removedByReaper,
            removedOther: all.removedOther, deferredByLockOrder: all.deferredByLockOrder,
            live: live, livePeak: max(samplePeak, drive.livePeak, live),
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
            allocator: alloc, invariants: checks.invariants, lockOrderViolations: violations, timeSeries: samples)
    }
}
