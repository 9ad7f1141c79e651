/// Decides how much of the table a reaper pass covers and when the next
/// pass runs. Pure value types: the schedule can be tested without threads.
public protocol ReaperPolicy: Sendable {
    /// The `previousInterval` handed to the first pass. The seed starts its
    /// loop with the start delay in that role.
    func initialPrevious(startDelay: Int64) -> Int64
    /// Budget of the next pass: buckets to walk and removals allowed.
    func plan(tableSize: Int) -> (maxBuckets: Int, maxEvictions: Int)
    /// The delay before the next pass, after `result`.
    mutating func next(after result: BucketTable.PassResult, previous: Int64, tableSize: Int) -> Int64
}

/// The seed's schedule: walk `buckets / fraction` buckets; if more than
/// `maxExpiredPercent` of checked tuples had expired, come back after
/// `minInterval`, else after the previous interval + `minInterval`, capped
/// at `maxFullTraversal / fraction`.
public struct SeedReaperPolicy: ReaperPolicy, Equatable {
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

    public func plan(tableSize: Int) -> (maxBuckets: Int, maxEvictions: Int) { (bucketsPerPass(tableSize: tableSize), .max) }

    /// The seed's arithmetic, integer percent included.
    public func nextInterval(checked: Int, expired: Int, previous: Int64) -> Int64 {
        let expiredPct = checked != 0 ? expired * 100 / checked : 0
        if expiredPct > maxExpiredPercent { return minInterval }
        let interval = previous + minInterval
        if interval <= maxInterval { return interval }
        return maxInterval
    }

    public mutating func next(after r: BucketTable.PassResult, previous: Int64, tableSize: Int) -> Int64 {
        nextInterval(checked: r.checked, expired: r.expired, previous: previous)
    }
}

/// Linux's 2022 garbage collector (nf_conntrack, 5.19+), in outline: it
/// sweeps the table in passes with a budget; while a sweep is incomplete
/// the next pass follows after `resumeDelay`; when a sweep completes, the
/// next one starts after the average remaining lifetime of the live
/// entries it saw, clamped to [minInterval, maxInterval]. Linux caps a pass
/// at 10 ms of CPU; a bucket budget stands in for that so runs stay
/// deterministic, and `maxEvictions` mirrors its expired-entries cap.
public struct Linux2022ReaperPolicy: ReaperPolicy, Equatable {
    public var bucketsPerPass: Int = 1024
    public var maxEvictions: Int = 64
    public var resumeDelay: Int64 = 1 * Duration_ns.millisecond
    public var minInterval: Int64 = 1 * Duration_ns.second
    public var maxInterval: Int64 = 60 * Duration_ns.second
    /// Sweep state: buckets covered and lifetimes seen so far.
    public private(set) var sweptBuckets = 0
    public private(set) var remainingSum: Double = 0
    public private(set) var liveSeen = 0

    public init(bucketsPerPass: Int = 1024, maxEvictions: Int = 64) {
        self.bucketsPerPass = bucketsPerPass; self.maxEvictions = maxEvictions
    }

    public func initialPrevious(startDelay: Int64) -> Int64 { maxInterval }

    public func plan(tableSize: Int) -> (maxBuckets: Int, maxEvictions: Int) {
        (min(bucketsPerPass, tableSize - sweptBuckets), maxEvictions)
    }

    public mutating func next(after r: BucketTable.PassResult, previous: Int64, tableSize: Int) -> Int64 {
        sweptBuckets += r.bucketsScanned
        remainingSum += r.remainingSum
        liveSeen += r.liveChecked
        if sweptBuckets < tableSize { return resumeDelay }
        let avg = liveSeen > 0 ? Int64(remainingSum / Double(liveSeen)) : maxInterval
        sweptBuckets = 0; remainingSum = 0; liveSeen = 0
        return Swift.min(Swift.max(avg, minInterval), maxInterval)
    }
}

/// Cilium's conntrack GC schedule: each pass walks the whole table; with a
/// delete ratio above 25 % the interval shrinks by that ratio (at most
/// ×0.1), below 5 % it grows ×1.5; clamped to [minInterval, maxInterval].
public struct CiliumReaperPolicy: ReaperPolicy, Equatable {
    public var initialInterval: Int64 = 5 * 60 * Duration_ns.second
    public var minInterval: Int64 = 10 * Duration_ns.second
    public var maxInterval: Int64 = 12 * 3600 * Duration_ns.second

    public init() {}

    public func initialPrevious(startDelay: Int64) -> Int64 { initialInterval }

    public func plan(tableSize: Int) -> (maxBuckets: Int, maxEvictions: Int) { (tableSize, .max) }

    public func interval(deleteRatio: Double, previous: Int64) -> Int64 {
        var interval = previous
        if deleteRatio > 0.25 {
            let r = Swift.min(deleteRatio, 0.9)
            interval = Int64((Double(previous) * (1 - r) / 1e9).rounded()) * Duration_ns.second
            if interval < minInterval { interval = minInterval }
        } else if deleteRatio < 0.05 {
            interval = Int64((Double(previous) * 1.5 / 1e9).rounded()) * Duration_ns.second
            if interval > maxInterval { interval = maxInterval }
        }
        return interval
    }

    public mutating func next(after r: BucketTable.PassResult, previous: Int64, tableSize: Int) -> Int64 {
        interval(deleteRatio: r.checked > 0 ? Double(r.expired) / Double(r.checked) : 0, previous: previous)
    }
}

/// The policies selectable at run time, without an existential.
public enum ReaperPolicyChoice: ReaperPolicy {
    case seed(SeedReaperPolicy)
    case linux2022(Linux2022ReaperPolicy)
    case cilium(CiliumReaperPolicy)

    public var name: String {
        switch self { case .seed: "seed"; case .linux2022: "linux2022"; case .cilium: "cilium" }
    }

    public func initialPrevious(startDelay: Int64) -> Int64 {
        switch self {
        case .seed(let p): p.initialPrevious(startDelay: startDelay)
        case .linux2022(let p): p.initialPrevious(startDelay: startDelay)
        case .cilium(let p): p.initialPrevious(startDelay: startDelay)
        }
    }

    public func plan(tableSize: Int) -> (maxBuckets: Int, maxEvictions: Int) {
        switch self {
        case .seed(let p): p.plan(tableSize: tableSize)
        case .linux2022(let p): p.plan(tableSize: tableSize)
        case .cilium(let p): p.plan(tableSize: tableSize)
        }
    }

    public mutating func next(after r: BucketTable.PassResult, previous: Int64, tableSize: Int) -> Int64 {
        switch self {
        case .seed(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .seed(p); return v
        case .linux2022(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .linux2022(p); return v
        case .cilium(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .cilium(p); return v
        }
    }
}
