import ConnTrack
import Histogram
import Sync
import struct Synchronization.Atomic

/// What a worker shares with the sampler, the reaper clock and the
/// watchdog. Its counters are published once per batch under a mutex.
final class WorkerShared: @unchecked Sendable {
    let index: Int
    let mutex = HeapMutex()
    /// protected by mutex
    var published = TableStats()
    /// Virtual time this worker has reached.
    let virtualNow = Atomic<Int64>(0)
    let finished = Atomic<Bool>(false)
    /// The worker is filling its buffer from its source (generating or
    /// reading), not processing: the progress line's phase.
    let filling = Atomic<Bool>(false)
    let watch: WatchSlot
    /// Written by the worker, read after it joined.
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// The latency samples since the workload monitor last took them
    /// (recorded only when `tracksIntervalLatency`). Written by the worker,
    /// read and reset by the monitor while the worker waits at a boundary.
    var tracksIntervalLatency = false
    var intervalLatency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// Written by the worker, read after it joined (or by the monitor while
    /// it waits at a boundary).
    var generationNanos: Int64 = 0
    /// Written by the worker, read after it joined.
    var processed = 0
    /// The exact live peak (deterministic runs: one worker, reaper inline).
    var livePeak: Int64 = 0
    /// Wall time spent processing, written by the worker, read after it joined.
    var busyNanos: Int64 = 0
    /// Thread CPU time while processing (on the calls that measured it),
    /// written by the worker, read after it joined.
    var cpuNanos: Int64 = 0
    /// Busy time of the calls that measured CPU time (all of them, except
    /// in the windowed driver, which measures one window in eight).
    var cpuMeasuredBusyNanos: Int64 = 0
    /// What the worker's waits at barriers (and in the reaper team) cost:
    /// spinning and parked, not busy. Written by the worker, read after it
    /// joined.
    var waits = WaitStats()
    /// The scheduler's count of the worker's thread at its start, and its
    /// time on a CPU and in a run queue since (nil: not known here).
    /// Written by the worker, read after it joined.
    private var schedStart: ThreadSchedStat?
    var sched: ThreadSchedStat?
    /// Packets until the next latency sample, carried across chunks and
    /// windows; owned by the worker.
    var sampleCountdown = 0
    /// Written by the worker, read after it joined.
    var lastTimestamp: Int64 = 0
    /// Batch ends and latency samples with their times, when operations
    /// are scheduled (`--op`); set before the run, written by the worker.
    var timeline: WorkerTimeline? = nil

    init(index: Int) {
        self.index = index
        watch = WatchSlot(name: "worker-\(index)")
    }

    /// The worker's thread starts counting its scheduling (called on it).
    func beginThreadAccounting() { schedStart = ThreadSchedStat.now() }

    /// The worker's thread stops counting (called on it, on the thread
    /// that began).
    func endThreadAccounting() {
        guard let s = schedStart, let e = ThreadSchedStat.now() else { return }
        let d = e - s
        sched = sched.map { ThreadSchedStat(onCPUNanos: $0.onCPUNanos + d.onCPUNanos, runQueueNanos: $0.runQueueNanos + d.runQueueNanos) } ?? d
        schedStart = nil
    }

    func publish(_ s: TableStats) {
        mutex.lock(); published = s; mutex.unlock()
    }

    func read() -> TableStats {
        mutex.lock(); defer { mutex.unlock() }
        return published
    }
}
