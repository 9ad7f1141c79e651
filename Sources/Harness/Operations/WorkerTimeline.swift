import Sync
import struct Synchronization.Atomic

/// A worker's recent past, for the figures around an operation (`--op`):
/// at the end of every batch the time and the worker's packets so far,
/// and each latency sample with its time, in rings the operation thread
/// reads afterwards. One writer (the worker), stores only; a reader takes
/// the entries in a time range and skips any the writer overwrote while
/// it read (their sequence numbers tell). Allocated once, before the run.
final class WorkerTimeline: @unchecked Sendable {
    /// A ring of (time, value) pairs with a sequence number per slot.
    struct Ring {
        let capacity: Int
        /// 3 words per slot: sequence (1-based; 0: empty), time, value.
        let words: UnsafeMutablePointer<Atomic<UInt64>>
        /// Entries written so far (the next one's sequence, less one).
        let written: UnsafeMutablePointer<Atomic<UInt64>>

        init(capacity: Int) {
            precondition(capacity > 0 && capacity & (capacity - 1) == 0, "a ring of \(capacity)")
            self.capacity = capacity
            words = .allocate(capacity: 3 * capacity)
            for i in 0..<(3 * capacity) { (words + i).initialize(to: Atomic(0)) }
            written = .allocate(capacity: 1)
            written.initialize(to: Atomic(0))
        }

        func deallocate() {
            words.deallocate()
            written.deallocate()
        }

        /// Preconditions: called by the one writer.
        @inline(__always)
        func append(time: Int64, value: UInt64) {
            let n = written.pointee.load(ordering: .relaxed) &+ 1
            let w = words + 3 * Int((n &- 1) & UInt64(capacity - 1))
            w[0].store(0, ordering: .relaxed)
            w[1].store(UInt64(bitPattern: time), ordering: .relaxed)
            w[2].store(value, ordering: .relaxed)
            w[0].store(n, ordering: .releasing)
            written.pointee.store(n, ordering: .releasing)
        }

        /// The entries with time in `range`, oldest first; entries the
        /// writer replaced while they were read are left out.
        func entries(in range: Range<Int64>) -> [(time: Int64, value: UInt64)] {
            let n = written.pointee.load(ordering: .acquiring)
            var out: [(Int64, UInt64)] = []
            var seq = n > UInt64(capacity) ? n - UInt64(capacity) + 1 : 1
            while seq <= n {
                let w = words + 3 * Int((seq &- 1) & UInt64(capacity - 1))
                let s0 = w[0].load(ordering: .acquiring)
                let t = Int64(bitPattern: w[1].load(ordering: .relaxed))
                let v = w[2].load(ordering: .relaxed)
                if s0 == seq && w[0].load(ordering: .acquiring) == seq && range.contains(t) { out.append((t, v)) }
                seq += 1
            }
            return out
        }
    }

    /// Batch ends: (time, packets processed so far).
    let batches: Ring
    /// Latency samples: (time, ns).
    let latencies: Ring
    /// The worker's packets so far (written by the worker only).
    private(set) var packets: UInt64 = 0

    init(batchCapacity: Int = 1 << 18, latencyCapacity: Int = 1 << 18) {
        batches = Ring(capacity: batchCapacity)
        latencies = Ring(capacity: latencyCapacity)
    }

    deinit {
        batches.deallocate()
        latencies.deallocate()
    }

    /// A batch of `count` packets ended at `time`, with these samples.
    /// Preconditions: called by the worker.
    @inline(__always)
    func noteBatch(time: Int64, count: Int, samples: UnsafeMutableBufferPointer<UInt64>, sampleCount: Int) {
        packets &+= UInt64(count)
        batches.append(time: time, value: packets)
        for k in 0..<sampleCount { latencies.append(time: time, value: samples[k]) }
    }
}
