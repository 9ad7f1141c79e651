import ConnTrack
import FlowGen
import Histogram
import struct Synchronization.Atomic

/// What a worker shares with the sampler, the reaper clock and the
/// watchdog. Its stats copy is published once per batch under a mutex.
final class WorkerShared: @unchecked Sendable {
    let index: Int
    let mutex = HeapMutex()
    /// protected by mutex
    var published = TableStats()
    /// Virtual time this worker has reached (Int64.max once finished).
    let virtualNow = Atomic<Int64>(0)
    let finished = Atomic<Bool>(false)
    let watch: WatchSlot
    /// Written by the worker, read after it joined.
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var final = TableStats()
    var locks: [LockOrderViolation] = []
    var tableNanos: Int64 = 0
    var generationNanos: Int64 = 0
    var processed = 0
    var lastTimestamp: Int64 = 0

    init(index: Int) {
        self.index = index
        watch = WatchSlot(name: "worker-\(index)")
    }

    func publish(_ s: TableStats) {
        mutex.lock(); published = s; mutex.unlock()
    }

    func read() -> TableStats {
        mutex.lock(); defer { mutex.unlock() }
        return published
    }
}

/// The per-packet loop, specialised for each table design and clock.
@inline(__always)
func process<T: ConnTrackTable, C: TimeSource>(
    _ table: T, _ buf: UnsafeMutableBufferPointer<Packet>, count: Int, clock: inout C,
    tick: (inout C, Packet) -> Void, ctx: inout WorkerContext, shared: WorkerShared,
    slot: Int, batch: Int, sampleEvery: Int, beforePacket: (Packet) -> Void
) {
    var i = 0
    var sampleCountdown = sampleEvery
    while i < count {
        let end = min(count, i + batch)
        while i < end {
            let p = buf[i]
            beforePacket(p)
            tick(&clock, p)
            sampleCountdown -= 1
            if sampleCountdown == 0 {
                sampleCountdown = sampleEvery
                let t0 = MonotonicClock.read()
                _ = table.handlePacket(p, clock: clock, &ctx)
                shared.latency.record(UInt64(max(0, MonotonicClock.read() - t0)))
            } else {
                _ = table.handlePacket(p, clock: clock, &ctx)
            }
            i += 1
        }
        // Between batches: no connection pointer is held.
        table.reclaimer.quiescent(slot)
        shared.virtualNow.store(buf[end - 1].timestamp, ordering: .relaxed)
        shared.watch.progress.add(UInt64(batch), ordering: .relaxed)
        shared.publish(ctx.stats)
    }
}
