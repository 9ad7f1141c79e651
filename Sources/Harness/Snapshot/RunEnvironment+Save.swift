import ConnTrack
import Sync

extension RunEnvironment {
    /// Saves the table as the seed's `beforeSave` does: the reaper is not
    /// running (inline or between windows here, or stopped), the design's
    /// export holds its table lock while it reads every connection, and the
    /// reaper's position, interval and policy state go with it.
    /// `workerStats` are the workers' merged counters so far.
    /// Preconditions: every worker is paused at a batch or window boundary.
    func save(at now: Int64, workerStats: TableStats, livePeak: Int64, atEnd: Bool = false) {
        guard let sink = cfg.onSnapshot else { return }
        let t0 = MonotonicClock.read()
        let records = table.exportConnections(now: now)
        let exportNanos = MonotonicClock.read() - t0
        let fromGenerators = sources.cells.allSatisfy { $0.source.gen != nil }
        let header = SnapshotHeader(
            design: T.traits.name, variant: (cfg.table.variant ?? T.traits.defaultVariant)?.rawValue,
            buckets: table.sweepSlots, hashSeed: table.hashSeed, timeouts: cfg.table.timeouts,
            maxConnections: cfg.table.maxConnections, connections: records.count,
            clock: cfg.clock == .virtual ? "virtual" : "real", clockEpochUnixNanos: clockEpoch, savedAt: now,
            reaper: cfg.reaperEnabled ? reaper.savedState() : nil, counters: workerStats,
            // The table's own peak where it keeps one (exact).
            livePeak: max(livePeak, Int64(table.inspect().peakConnections ?? 0)),
            scenario: fromGenerators ? cfg.scenario : nil,
            streamPositions: fromGenerators ? workers.map(\.processed) : nil)
        var s = TableSnapshot(header: header, records: records)
        s.exportNanos = exportNanos
        sink(s, atEnd)
    }

    /// A save while the workers run (`--op save`): the records a dump's
    /// walk listed, the workers' counters as last published, the reaper's
    /// state between two passes. The stream's position is not saved (the
    /// workers are mid-chunk), so a restore starts the scenario afresh.
    func saveWhileRunning(at now: Int64, records: [ConnectionRecord]) {
        guard let sink = cfg.onSnapshot else { return }
        var stats = TableStats()
        for w in workers { stats.merge(w.read()) }
        let header = SnapshotHeader(
            design: T.traits.name, variant: (cfg.table.variant ?? T.traits.defaultVariant)?.rawValue,
            buckets: table.sweepSlots, hashSeed: table.hashSeed, timeouts: cfg.table.timeouts,
            maxConnections: cfg.table.maxConnections, connections: records.count,
            clock: cfg.clock == .virtual ? "virtual" : "real", clockEpochUnixNanos: clockEpoch, savedAt: now,
            reaper: cfg.reaperEnabled ? reaper.savedState() : nil, counters: stats,
            livePeak: Int64(max(records.count, table.inspect().peakConnections ?? 0)),
            scenario: nil, streamPositions: nil)
        sink(TableSnapshot(header: header, records: records), false)
    }

    /// Unix time of the run clock's 0: the configured virtual epoch, or for
    /// a real clock (CLOCK_MONOTONIC) the offset of CLOCK_REALTIME from it.
    var clockEpoch: Int64 {
        cfg.clock != .virtual ? MonotonicClock.unixEpoch() : cfg.clockEpochUnixNanos
    }
}
