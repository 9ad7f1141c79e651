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
        /// timestamp order): a binary search of everything unprocessed.
        func countBefore(_ t: Int64) -> Int {
            var lo = pos, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                if buf[mid].timestamp < t { lo = mid + 1 } else { hi = mid }
            }
            return lo - pos
        }

        /// The first index at or after `from` whose packet is at or after
        /// `t` (`count`: none), when every packet before `from` is before
        /// `t`: a galloping search from `from`, which reads a few lines near
        /// it instead of a binary search's lines spread over the whole
        /// buffer (a sparse window's next spans hold a few packets each).
        func firstIndex(atOrAfter t: Int64, from: Int) -> Int {
            assert(from >= pos && from <= count && (from == pos || buf[from - 1].timestamp < t))
            var lo = from, hi = from, step = 1
            // Every index below `lo` is before `t`; the answer is in lo...hi.
            while hi < count && buf[hi].timestamp < t {
                lo = hi + 1
                hi = min(count, lo &+ step)
                step &<<= 1
            }
            while lo < hi {
                let mid = lo + (hi - lo) / 2
                if buf[mid].timestamp < t { lo = mid + 1 } else { hi = mid }
            }
            return lo
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
