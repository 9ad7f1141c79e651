/// Cilium's conntrack GC schedule: each pass walks the whole table; with a
/// delete ratio above 25 % the interval shrinks by that ratio (at most
/// ×0.1), below 5 % it grows ×1.5; clamped to [minInterval, maxInterval].
public struct CiliumReaperPolicy: ReaperPolicy, Equatable, Codable {
    public var initialInterval: Int64 = 5 * 60 * Duration_ns.second
    public var minInterval: Int64 = 10 * Duration_ns.second
    public var maxInterval: Int64 = 12 * 3600 * Duration_ns.second
    /// Above this delete ratio (percent) the interval shrinks (Cilium: 25).
    public var shrinkAbovePercent = 25
    /// Below this delete ratio (percent) the interval grows ×1.5 (Cilium: 5).
    public var growBelowPercent = 5

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case initialInterval, minInterval, maxInterval, shrinkAbovePercent, growBelowPercent
    }

    /// Tables saved before the ratios were settings have Cilium's.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        initialInterval = try c.decode(Int64.self, forKey: .initialInterval)
        minInterval = try c.decode(Int64.self, forKey: .minInterval)
        maxInterval = try c.decode(Int64.self, forKey: .maxInterval)
        shrinkAbovePercent = try c.decodeIfPresent(Int.self, forKey: .shrinkAbovePercent) ?? 25
        growBelowPercent = try c.decodeIfPresent(Int.self, forKey: .growBelowPercent) ?? 5
    }

    public func initialPrevious(startDelay: Int64) -> Int64 { initialInterval }

    public func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int) { (tableSize, .max) }

    public func interval(deleteRatio: Double, previous: Int64) -> Int64 {
        var interval = previous
        if deleteRatio > Double(shrinkAbovePercent) / 100 {
            let r = Swift.min(deleteRatio, 0.9)
            interval = Int64((Double(previous) * (1 - r) / 1e9).rounded()) * Duration_ns.second
            if interval < minInterval { interval = minInterval }
        } else if deleteRatio < Double(growBelowPercent) / 100 {
            interval = Int64((Double(previous) * 1.5 / 1e9).rounded()) * Duration_ns.second
            if interval > maxInterval { interval = maxInterval }
        }
        return interval
    }

    public mutating func next(after r: ReapPassResult, previous: Int64, tableSize: Int) -> Int64 {
        interval(deleteRatio: r.checked > 0 ? Double(r.expired) / Double(r.checked) : 0, previous: previous)
    }
}
