/// Aggregates of a table at rest, slot by slot, so that the reaper can
/// compute a pass that finds nothing expired without walking it.
///
/// A design fills one leaf per unit its passes walk (a bucket, or a
/// position in its iteration order). The leaves sit in a segment tree, so
/// any window of slots is summed in O(log n), and a removal during a real
/// pass updates two leaves in O(log n).
///
/// `minExpiry` may be stale, but only low: a removal lowers the count and
/// the sum exactly and leaves the minimum where it was (a lower bound), so
/// "nothing in this window has expired" read from the summary is always
/// true of the table. The design refreshes a window's leaves exactly after
/// a real pass over it.
public struct SweepSummary: Sendable {
    /// One slot, or the combination of a range of slots.
    public struct Leaf: Sendable, Equatable {
        /// Entries a pass checks in the slot (tuples, for the bucket table).
        public var count: Int
        /// The earliest expiry time of those entries: an entry with expiry
        /// `e` is expired at `now` when `e < now` (its time remaining,
        /// `e - now`, is negative).
        public var minExpiry: Int64
        /// Σ expiry over the entries, exact (a pass's `remainingSum` is this
        /// minus `count × now`).
        public var sumExpiry: Int128

        public static let empty = Leaf(count: 0, minExpiry: .max, sumExpiry: 0)

        public init(count: Int, minExpiry: Int64, sumExpiry: Int128) {
            self.count = count; self.minExpiry = minExpiry; self.sumExpiry = sumExpiry
        }

        /// Adds one entry expiring at `expiry`.
        public mutating func add(expiry: Int64) {
            count += 1; minExpiry = min(minExpiry, expiry); sumExpiry += Int128(expiry)
        }

        public static func + (a: Leaf, b: Leaf) -> Leaf {
            Leaf(count: a.count + b.count, minExpiry: min(a.minExpiry, b.minExpiry), sumExpiry: a.sumExpiry + b.sumExpiry)
        }

        /// Nothing in these entries has expired at `now`.
        public func noneExpired(at now: Int64) -> Bool { count == 0 || minExpiry >= now }

        /// Σ (expiry − now): what a pass adds to `remainingSum` for them.
        public func remainingSum(at now: Int64) -> Int128 { sumExpiry - Int128(count) * Int128(now) }
    }

    /// Leaves.
    public let size: Int
    /// Node k covers its children 2k and 2k+1; leaf i is node size + i.
    private var tree: [Leaf]
    /// False once the table changed in a way the design does not track
    /// leaf by leaf; the reaper then builds a new summary (or walks).
    public var valid = true

    public init(leaves: [Leaf]) {
        size = leaves.count
        tree = Array(repeating: .empty, count: 2 * max(size, 1))
        for (i, l) in leaves.enumerated() { tree[size + i] = l }
        if size > 1 { for k in stride(from: size - 1, through: 1, by: -1) { tree[k] = tree[2 * k] + tree[2 * k + 1] } }
    }

    public subscript(leaf i: Int) -> Leaf { tree[size + i] }

    /// Every slot combined.
    public var total: Leaf { tree[1] }

    /// Replaces leaf `i` (an exact recount after a real pass).
    public mutating func set(_ i: Int, _ leaf: Leaf) {
        precondition(i >= 0 && i < size, "leaf \(i) out of 0..<\(size)")
        var k = size + i
        tree[k] = leaf
        while k > 1 { k /= 2; tree[k] = tree[2 * k] + tree[2 * k + 1] }
    }

    /// One entry expiring at `expiry` left slot `i`. The minimum stays (a
    /// lower bound) until the slot is recounted.
    public mutating func removeEntry(slot i: Int, expiry: Int64) {
        precondition(i >= 0 && i < size, "leaf \(i) out of 0..<\(size)")
        var k = size + i
        while k >= 1 {
            tree[k].count -= 1
            tree[k].sumExpiry -= Int128(expiry)
            k /= 2
        }
        assert(tree[size + i].count >= 0, "removed an entry the summary did not hold")
    }

    /// The combination of leaves lo..<hi.
    public func range(_ lo: Int, _ hi: Int) -> Leaf {
        precondition(lo >= 0 && lo <= hi && hi <= size, "range \(lo)..<\(hi) out of 0...\(size)")
        var l = lo + size, r = hi + size
        var acc = Leaf.empty
        while l < r {
            if l & 1 == 1 { acc = acc + tree[l]; l += 1 }
            if r & 1 == 1 { r -= 1; acc = acc + tree[r] }
            l /= 2; r /= 2
        }
        return acc
    }

    /// The combination of `length` consecutive slots from `start`, wrapping
    /// at the end (a slot walked twice counts twice, as a pass would).
    public func window(start: Int, length: Int) -> Leaf {
        guard size > 0, length > 0 else { return .empty }
        let s = start % size
        let whole = length / size, rest = length % size
        var acc = Leaf.empty
        if whole > 0 {
            let all = tree[1]
            acc = Leaf(count: all.count * whole, minExpiry: all.minExpiry, sumExpiry: all.sumExpiry * Int128(whole))
        }
        if rest > 0 {
            if s + rest <= size { acc = acc + range(s, s + rest) }
            else { acc = acc + range(s, size) + range(0, s + rest - size) }
        }
        return acc
    }
}
