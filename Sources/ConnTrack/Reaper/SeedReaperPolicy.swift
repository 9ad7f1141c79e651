/// The seed's schedule: walk `buckets / fraction` buckets; if more than
/// `maxExpiredPercent` of checked tuples had expired, come back after
/// `minInterval`, else after the previous interval + `minInterval`, capped
/// at `maxFullTraversal / fraction`.
public struct SeedReaperPolicy: ReaperPolicy, Equatable, Codable {
    public var fraction: Int = 128
    public var maxExpiredPercent: Int = 50
    public var minInterval: Int64 = 10 * Duration_ns.millisecond
    public var maxFullTraversal: Int64 = 60 * Duration_ns.second

    public init(fraction: Int = 128, maxExpiredPercent: Int = 50,
                minInterval: Int64 = 10 * Duration_ns.millisecond, maxFullTraversal: Int64 = 60 * Duration_ns.second) {
        precondition(fraction >= 1, "fraction must be >= 1")
        self.fraction = fraction; self.maxExpiredPercent = maxExpiredPercent
        self.minInterval = minInterval; self.maxFullTraversal = maxFullTraversal
    }

    public var maxInterval: Int64 { maxFullTraversal / Int64(fraction) }

    public func bucketsPerPass(tableSize: Int) -> Int { tableSize / fraction }

    public func initialPrevious(startDelay: Int64) -> Int64 { startDelay }

    public func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int) { (bucketsPerPass(tableSize: tableSize), .max) }

    /// The seed's arithmetic, integer percent included.
    public func nextInterval(checked: Int, expired: Int, previous: Int64) -> Int64 {
        let expiredPct = checked != 0 ? expired * 100 / checked : 0
        if expiredPct > maxExpiredPercent { return minInterval }
        let interval = previous + minInterval
        if interval <= maxInterval { return interval }
        return maxInterval
    }

    public mutating func next(after r: ReapPassResult, previous: Int64, tableSize: Int) -> Int64 {
        nextInterval(checked: r.checked, expired: r.expired, previous: previous)
    }
}
