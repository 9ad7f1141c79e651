/// Linux's 2022 garbage collector (nf_conntrack, 5.19+), in outline: it
/// sweeps the table in passes with a budget; while a sweep is incomplete
/// the next pass follows after `resumeDelay`; when a sweep completes, the
/// next one starts after the average remaining lifetime of the live
/// entries it saw, clamped to [minInterval, maxInterval]. Linux caps a pass
/// at 10 ms of CPU; a bucket budget stands in for that so runs stay
/// deterministic, and `maxEvictions` mirrors its expired-entries cap.
public struct Linux2022ReaperPolicy: ReaperPolicy, Equatable, Codable {
    public var bucketsPerPass: Int = 1024
    public var maxEvictions: Int = 64
    public var resumeDelay: Int64 = 1 * Duration_ns.millisecond
    public var minInterval: Int64 = 1 * Duration_ns.second
    public var maxInterval: Int64 = 60 * Duration_ns.second
    /// Sweep state: buckets covered and lifetimes seen so far.
    public private(set) var sweptBuckets = 0
    public private(set) var remainingSum: Int128 = 0
    public private(set) var liveSeen = 0

    public init(bucketsPerPass: Int = 1024, maxEvictions: Int = 64) {
        self.bucketsPerPass = bucketsPerPass; self.maxEvictions = maxEvictions
    }

    public func initialPrevious(startDelay: Int64) -> Int64 { maxInterval }

    public func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int) {
        (min(bucketsPerPass, tableSize - sweptBuckets), maxEvictions)
    }

    public mutating func next(after r: ReapPassResult, previous: Int64, tableSize: Int) -> Int64 {
        sweptBuckets += r.slotsScanned
        remainingSum += r.remainingSum
        liveSeen += r.liveChecked
        if sweptBuckets < tableSize { return resumeDelay }
        let avg = liveSeen > 0 ? Int64(remainingSum / Int128(liveSeen)) : maxInterval
        sweptBuckets = 0; remainingSum = 0; liveSeen = 0
        return Swift.min(Swift.max(avg, minInterval), maxInterval)
    }
}
