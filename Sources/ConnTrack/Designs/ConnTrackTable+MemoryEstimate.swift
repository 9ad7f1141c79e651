#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ConnTrackTable {
    /// A floor for a design that does not declare its own: the reaper's
    /// sweep summary over `config.buckets` slots, the report's per-slot
    /// arrays, and a connection record per connection with the invariant
    /// check's set. A design overrides it with its own structures.
    public static func estimatedBytes(_ config: TableConfig, connections: Int, threads: Int) -> Int {
        MemoryFootprint.sweepSummary(leaves: config.buckets)
            + MemoryFootprint.inspection(slots: config.buckets)
            + connections * MemoryLayout<ConnectionRecord>.stride
            + MemoryFootprint.hashTable(connections, stride: 8)
    }
}

/// Upper bounds of what the containers and allocations the designs use
/// cost in resident memory, from their element sizes and growth rules, so
/// a design's `estimatedBytes` reads as a list of its structures.
public enum MemoryFootprint {
    public static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    static func roundUp(_ n: Int, _ to: Int) -> Int { (n + to - 1) / to * to }

    /// One heap block of `bytes` from glibc's malloc: an 8-byte chunk header
    /// rounded to 16 bytes (32 at least), plus the alignment a stricter
    /// `alignment` may waste; from 128 KiB on it is its own mapping, whole
    /// pages.
    public static func heapBlock(_ bytes: Int, alignment: Int = 16) -> Int {
        let slack = alignment > 16 ? alignment : 0
        if bytes >= 128 << 10 { return roundUp(bytes + 16 + slack, page) }
        return max(32, roundUp(bytes + 8, 16)) + slack
    }

    /// A Swift array of `count` elements allocated at its final size (a
    /// `map` over a collection, `reserveCapacity`): a 32-byte header.
    public static func array(_ count: Int, stride: Int) -> Int {
        heapBlock(32 + max(0, count) * stride)
    }

    /// A Swift array grown by appending to `count` elements: its capacity
    /// can be twice the count, and while it doubles the old storage is
    /// still there.
    public static func grownArray(_ count: Int, stride: Int) -> Int {
        array(2 * count, stride: stride) + array(count, stride: stride)
    }

    /// A Swift `Set` or `Dictionary` grown to `count` entries of `stride`
    /// bytes (key and value): a power-of-two bucket count at most 3/4 full,
    /// and while it doubles the half-size storage is still there; a bitmap
    /// bit per bucket.
    public static func hashTable(_ count: Int, stride: Int) -> Int {
        guard count > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 < count * 4 { buckets <<= 1 }
        let bytes = { (b: Int) in heapBlock(64 + b * stride + b / 8) }
        return bytes(buckets) + bytes(buckets / 2)
    }

    /// The reaper's sweep summary of `leaves` slots while it is built: the
    /// leaves, and the segment tree of twice as many nodes.
    public static func sweepSummary(leaves: Int) -> Int {
        let leaf = MemoryLayout<SweepSummary.Leaf>.stride
        return array(leaves, stride: leaf) + array(2 * max(leaves, 1), stride: leaf)
    }

    /// A report's view of `slots` slots: the design's per-slot lengths and
    /// contention (read together as pairs, then split), and the report's
    /// lengths as doubles, sorted, and the empty slots among them.
    public static func inspection(slots: Int) -> Int {
        array(slots, stride: 16) + 5 * array(slots, stride: 8)
    }

    /// Anonymous memory of which `bytes` are touched: whole pages.
    public static func touchedPages(_ bytes: Int) -> Int { roundUp(max(0, bytes), page) }
}
