/// Exact histogram of chain lengths walked per lookup, 0…62 exactly and
/// 63 for "63 or more", plus the true maximum.
public struct ChainHistogram: Sendable {
    public static let slots = 64
    public var counts: InlineArray<64, UInt64> = InlineArray(repeating: 0)
    public var max: Int = 0
    public var total: UInt64 = 0
    public init() {}

    @inline(__always)
    public mutating func record(_ length: Int) {
        counts[Swift.min(length, 63)] &+= 1
        total &+= UInt64(length)
        if length > max { max = length }
    }

    public mutating func merge(_ o: ChainHistogram) {
        for i in 0..<64 { counts[i] &+= o.counts[i] }
        total &+= o.total
        max = Swift.max(max, o.max)
    }

    public var samples: UInt64 { (0..<64).reduce(0) { $0 &+ counts[$1] } }

    /// Smallest length L such that at least `p` percent of lookups walked ≤ L.
    public func percentile(_ p: Double) -> Int {
        let n = samples
        if n == 0 { return 0 }
        let want = UInt64((Double(n) * p / 100).rounded(.up))
        var acc: UInt64 = 0
        for i in 0..<64 {
            acc &+= counts[i]
            if acc >= Swift.max(want, 1) { return i == 63 ? max : i }
        }
        return max
    }
}

extension ChainHistogram: Equatable {
    public static func == (a: ChainHistogram, b: ChainHistogram) -> Bool {
        a.max == b.max && a.total == b.total && (0..<64).allSatisfy { a.counts[$0] == b.counts[$0] }
    }
}
