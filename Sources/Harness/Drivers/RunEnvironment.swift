import ConnTrack
import Sync

/// What a driver needs for one run; `Runner` builds it.
struct RunEnvironment<T: ConnTrackTable>: @unchecked Sendable {
    let table: T
    let reaper: Reaper<T>
    let cfg: RunConfig
    let workers: [WorkerShared]
    let sources: SourceBox
    /// Time the reaper's schedule starts from: CLOCK_MONOTONIC at the start
    /// for real clocks, 0 for virtual time.
    let startTime: Int64
    /// Counters of a restored run before its save: worker 0 starts from them.
    var carried: TableStats? = nil
    /// Which operation (`--op`) runs now, for the paced driver's pauses.
    let operationActivity = OperationActivity()
}

extension RunEnvironment {
    /// Live connections from the workers' merged counters and the reaper's
    /// and the operations' removals. Exact when every worker is at a
    /// quiescent point and no flush or delete is under way.
    func liveConnections(_ workers: TableStats) -> Int64 {
        liveConnections(workersCreatedLessRemoved: workers.createdLessRemoved)
    }

    /// `liveConnections` from the workers' created less removed alone.
    func liveConnections(workersCreatedLessRemoved n: Int64) -> Int64 {
        n &- Int64(reaper.removedSoFar) &- operationActivity.removedSoFar
    }

    /// Worker `w`'s next packets from its source into `buf` (generated or
    /// read), marked as such for the progress line's phase.
    func fill(_ w: Int, _ buf: UnsafeMutableBufferPointer<Packet>) -> Int {
        workers[w].filling.store(true, ordering: .relaxed)
        defer { workers[w].filling.store(false, ordering: .relaxed) }
        return sources.fill(w, buf)
    }

    /// Latency slots one batch can fill.
    var latencyCapacity: Int { cfg.batch / cfg.latencySampleEvery + 2 }

    func makeContext(_ w: Int) -> WorkerContext {
        var ctx = WorkerContext(name: "worker-\(w)", checkLockOrder: cfg.checkLockOrder,
                                action: cfg.checkLockOrder ? .trap : .record)
        if w == 0, let c = carried { ctx.stats = c }
        ctx.watch = workers[w].watch
        ctx.trace = cfg.trace?.lane(w)
        ctx.retireShard = UInt8(truncatingIfNeeded: w)
        return ctx
    }
}
