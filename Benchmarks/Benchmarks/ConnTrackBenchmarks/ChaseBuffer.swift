#if canImport(Glibc)
import Glibc
#endif

/// 1 GiB of 64-byte lines linked in one random cycle (Sattolo's shuffle):
/// following the links visits every line once, in an order no prefetcher
/// can guess. Built once per page size and kept for the process.
final class ChaseBuffer: @unchecked Sendable {
    static let lines = 1 << 24
    let base: UnsafeMutablePointer<Int>

    nonisolated(unsafe) private static var built: [Bool: ChaseBuffer] = [:]
    static func shared(hugePages: Bool) -> ChaseBuffer {
        if let b = built[hugePages] { return b }
        let b = ChaseBuffer(hugePages: hugePages)
        built[hugePages] = b
        return b
    }

    init(hugePages: Bool) {
        let bytes = Self.lines * 64
        var p: UnsafeMutableRawPointer? = nil
        precondition(posix_memalign(&p, 2 << 20, bytes) == 0, "posix_memalign failed")
        _ = madvise(p, bytes, hugePages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)
        base = p!.bindMemory(to: Int.self, capacity: bytes / 8)
        // Word 0 of line i holds the index of the next line's word 0.
        var order = Array(0..<Self.lines)
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        var i = Self.lines - 1
        while i > 0 {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            let j = Int(rng % UInt64(i))
            order.swapAt(i, j)
            i -= 1
        }
        for k in 0..<Self.lines { base[order[k] * 8] = order[(k + 1) % Self.lines] * 8 }
    }

    /// `loads` loads, each at the address the previous one read.
    @inline(never)
    func dependent(loads: Int) -> Int {
        var p = 0
        for _ in 0..<loads { p = base[p] }
        return p
    }

    /// `loads` loads over 16 chains that start apart and advance in turn.
    @inline(never)
    func independent(loads: Int) -> Int {
        var p = (0..<16).map { $0 * 8 * (Self.lines / 16) }
        return p.withUnsafeMutableBufferPointer { q in
            for _ in 0..<(loads / 16) {
                for c in 0..<16 { q[c] = base[q[c]] }
            }
            return q.reduce(0, &+)
        }
    }
}
