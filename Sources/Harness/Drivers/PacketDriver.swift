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
}

/// What a driver hands back when every packet was processed.
struct DriveResult {
    var contexts: [WorkerContext]
    /// Table work only (timed rounds, after warm-up).
    var tableNanos: Int64
    var generationNanos: Int64
    var livePeak: Int64
    /// The run's clock at the end: real time, or the last packet's timestamp.
    var endTime: Int64
}

/// A way of feeding packets to the table: deterministic (one worker,
/// inline reaper), concurrent rounds, and later a soak driver.
protocol PacketDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> DriveResult
}

extension RunEnvironment {
    /// Processes one chunk in batches. After each batch the worker is at a
    /// quiescent point: it announces it, publishes its virtual time, its
    /// progress and its counters. With `inlineReaper` the batch stops before
    /// the first packet at or after the reaper's due time and the due passes
    /// run first, exactly as if the reaper ran before every packet.
    func processChunk(_ packets: UnsafeBufferPointer<Packet>, worker: WorkerShared, slot: Int,
                      latencies: UnsafeMutableBufferPointer<UInt64>, inlineReaper: Bool, _ ctx: inout WorkerContext) {
        var b = PacketBatch(packets: packets, clock: cfg.clock, sampleEvery: cfg.latencySampleEvery, latencies: latencies)
        if inlineReaper { b.stopAtOrAfter = reaper.nextDueTime }
        while b.position < packets.count {
            b.next(size: cfg.batch, upTo: packets.count)
            while true {
                table.processBatch(&b, &ctx)
                if b.position == b.end { break }
                reaper.runDue(upTo: packets[b.position].timestamp)
                b.stopAtOrAfter = reaper.nextDueTime
            }
            for k in 0..<b.latencyCount { worker.latency.record(latencies[k]) }
            // Between batches: no connection reference is held.
            table.workerQuiescent(slot)
            worker.virtualNow.store(packets[b.end - 1].timestamp, ordering: .relaxed)
            worker.watch.progress.add(UInt64(cfg.batch), ordering: .relaxed)
            worker.publish(ctx.stats)
        }
    }

    /// Latency slots one batch can fill.
    var latencyCapacity: Int { cfg.batch / cfg.latencySampleEvery + 2 }

    func makeContext(_ w: Int) -> WorkerContext {
        var ctx = WorkerContext(name: "worker-\(w)", checkLockOrder: cfg.checkLockOrder,
                                action: cfg.checkLockOrder ? .trap : .record)
        ctx.watch = workers[w].watch
        return ctx
    }
}
