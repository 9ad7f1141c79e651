import ConnTrack
import Sync

extension WindowedDriver {
    /// One worker's buffer and position, owned by that worker; read by the
    /// leader inside barrier actions (the barrier orders the accesses).
    final class Lane: @unchecked Sendable {
        let buf: UnsafeMutableBufferPointer<Packet>
        var count = 0
        var pos = 0
        var exhausted = false
        init(capacity: Int) { buf = .allocate(capacity: capacity) }
        deinit { buf.deallocate() }
        var next: Int64? { pos < count ? buf[pos].timestamp : nil }
        /// Unprocessed packets with timestamps before `t` (the buffer is in
        /// timestamp order).
        func countBefore(_ t: Int64) -> Int {
            var lo = pos, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                if buf[mid].timestamp < t { lo = mid + 1 } else { hi = mid }
            }
            return lo - pos
        }
        /// Drained, but the source has more.
        var needsRefill: Bool { pos == count && !exhausted }

        /// Keeps the unprocessed tail and tops the buffer up from `fill`,
        /// which returns how many packets it wrote (0: the source is done).
        /// The time `fill` takes is added to `generationNanos`.
        func refill(generationNanos: inout Int64, _ fill: (UnsafeMutableBufferPointer<Packet>) -> Int) {
            guard !exhausted else { return }
            let tail = count - pos
            if pos > 0 && tail > 0 {
                // The ranges overlap when the tail is longer than the
                // consumed prefix: a move allows that.
                let base = buf.baseAddress!
                base.moveInitialize(from: base + pos, count: tail)
            }
            pos = 0
            count = tail
            let g0 = MonotonicClock.read()
            let n = fill(UnsafeMutableBufferPointer(rebasing: buf[tail..<buf.count]))
            generationNanos += MonotonicClock.read() - g0
            count += n
            if n == 0 { exhausted = true }
        }
    }
}
