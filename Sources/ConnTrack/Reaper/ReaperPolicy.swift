/// Decides how much of the table a reaper pass covers and when the next
/// pass runs. Pure value types: the schedule can be tested without threads.
public protocol ReaperPolicy: Sendable {
    /// The `previousInterval` handed to the first pass. The seed starts its
    /// loop with the start delay in that role.
    func initialPrevious(startDelay: Int64) -> Int64
    /// Budget of the next pass: slots (buckets) to walk and removals allowed.
    func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int)
    /// The delay before the next pass, after `result`.
    mutating func next(after result: ReapPassResult, previous: Int64, tableSize: Int) -> Int64
}

/// The policies selectable at run time, without an existential.
public enum ReaperPolicyChoice: ReaperPolicy, Equatable, Codable {
    case seed(SeedReaperPolicy)
    case linux2022(Linux2022ReaperPolicy)
    case cilium(CiliumReaperPolicy)
    case ovs(OVSReaperPolicy)

    /// The schedule reads the time left on live entries (so it changes as
    /// the clock advances, even over a table that does not).
    public var readsRemainingTime: Bool {
        if case .linux2022 = self { return true }
        return false
    }

    public var name: String {
        switch self { case .seed: "seed"; case .linux2022: "linux2022"; case .cilium: "cilium"; case .ovs: "ovs" }
    }

    public func initialPrevious(startDelay: Int64) -> Int64 {
        switch self {
        case .seed(let p): p.initialPrevious(startDelay: startDelay)
        case .linux2022(let p): p.initialPrevious(startDelay: startDelay)
        case .cilium(let p): p.initialPrevious(startDelay: startDelay)
        case .ovs(let p): p.initialPrevious(startDelay: startDelay)
        }
    }

    public func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int) {
        switch self {
        case .seed(let p): p.plan(tableSize: tableSize)
        case .linux2022(let p): p.plan(tableSize: tableSize)
        case .cilium(let p): p.plan(tableSize: tableSize)
        case .ovs(let p): p.plan(tableSize: tableSize)
        }
    }

    public mutating func next(after r: ReapPassResult, previous: Int64, tableSize: Int) -> Int64 {
        switch self {
        case .seed(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .seed(p); return v
        case .linux2022(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .linux2022(p); return v
        case .cilium(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .cilium(p); return v
        case .ovs(var p): let v = p.next(after: r, previous: previous, tableSize: tableSize); self = .ovs(p); return v
        }
    }
}

extension ReaperPolicyChoice {
    /// Checks the policy's parameters for a table of `tableSlots` slots;
    /// the message names the option and its range. A seed fraction above
    /// the slot count is allowed, as the 2020 code allows it
    /// (`zeroBudgetWarning` says what it means).
    public func validate(tableSlots: Int) throws(ConfigError) {
        switch self {
        case .seed(let p):
            guard p.fraction >= 1 && p.fraction <= 1 << 20 else {
                throw ConfigError("--fraction must be in 1...1048576, got \(p.fraction)")
            }
            guard p.maxExpiredPercent >= 0 && p.maxExpiredPercent <= 100 else {
                throw ConfigError("--max-expired-pct must be in 0...100, got \(p.maxExpiredPercent)")
            }
            guard p.minInterval >= Duration_ns.millisecond / 1000 else {
                throw ConfigError("--min-interval-ms must be at least 0.001 ms, got \(Double(p.minInterval) / 1e6) ms")
            }
            guard p.minInterval <= p.maxInterval else {
                throw ConfigError("--min-interval-ms (\(Double(p.minInterval) / 1e6)) must not exceed the maximum interval max-full-traversal/fraction (\(Double(p.maxInterval) / 1e6) ms)")
            }
        case .linux2022(let p):
            guard p.bucketsPerPass >= 1 && p.bucketsPerPass <= 1 << 28 else {
                throw ConfigError("--linux-buckets-per-pass must be in 1...\(1 << 28), got \(p.bucketsPerPass)")
            }
        case .cilium(let p):
            guard (0...100).contains(p.shrinkAbovePercent) else {
                throw ConfigError("--cilium-shrink-above-pct must be in 0...100, got \(p.shrinkAbovePercent)")
            }
            guard (0...100).contains(p.growBelowPercent) && p.growBelowPercent <= p.shrinkAbovePercent else {
                throw ConfigError("--cilium-grow-below-pct must be in 0...\(p.shrinkAbovePercent) (at most --cilium-shrink-above-pct), got \(p.growBelowPercent)")
            }
        case .ovs(let p):
            guard p.sweepInterval >= Duration_ns.millisecond && p.sweepInterval <= 3_600_000 * Duration_ns.millisecond else {
                throw ConfigError("--ovs-sweep-ms must be in 1...3600000, got \(p.sweepInterval / Duration_ns.millisecond)")
            }
            guard p.passDivisor >= 1 && p.passDivisor <= 65536 else {
                throw ConfigError("--ovs-pass-divisor must be in 1...65536, got \(p.passDivisor)")
            }
            guard p.resumeDelay >= 0 && p.resumeDelay <= 60_000 * Duration_ns.millisecond else {
                throw ConfigError("--ovs-resume-ms must be in 0...60000, got \(p.resumeDelay / Duration_ns.millisecond)")
            }
        }
    }
}
