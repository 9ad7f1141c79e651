/// Mean ± σ and min–max of a figure over repeats, as hyperfine reports them.
public struct Spread: Codable, Sendable, Equatable {
    public var n: Int
    public var mean: Double
    /// Sample standard deviation (0 for one value).
    public var stddev: Double
    public var min: Double
    public var max: Double
    public var median: Double

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a spread needs at least one value")
        let v = values.sorted()
        n = v.count
        mean = v.reduce(0, +) / Double(n)
        let m = mean
        stddev = n > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : 0
        min = v.first!
        max = v.last!
        median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    }

    /// "1.23 M ± 0.05 M (1.10 M … 1.31 M)"-style text, with `unit` scaling.
    public func text(scale: Double = 1, digits: Int = 2, unit: String = "") -> String {
        let f = { (x: Double) in ReportFormatter.f(x / scale, digits) + unit }
        return n == 1 ? f(mean) : "\(f(mean)) ± \(f(stddev)) (\(f(min)) … \(f(max)))"
    }

    /// Whether the min–max ranges of two spreads overlap.
    public func overlaps(_ o: Spread) -> Bool { min <= o.max && o.min <= max }
}

/// Several repeats of one configuration: every report, and the spread of
/// the figures that vary between them.
public struct RepeatedRun: Codable, Sendable {
    public static let schemaVersion = RunReport.schemaVersion
    public var schemaVersion = RepeatedRun.schemaVersion
    public var kind = "repeats"
    public var packetsPerSecond: Spread
    public var latencyP99Nanos: Spread
    public var cpusUtilized: Spread
    /// Table counters that differ between the repeats (name: min…max).
    public var varyingCounters: [String: [Int64]]
    public var runs: [RunReport]

    public init(_ runs: [RunReport]) {
        precondition(!runs.isEmpty, "repeats need at least one run")
        self.runs = runs
        packetsPerSecond = Spread(runs.map(\.packetsPerSecond))
        latencyP99Nanos = Spread(runs.map(\.latencyNanos.p99))
        cpusUtilized = Spread(runs.map(\.cpu.cpusUtilized))
        var varying: [String: [Int64]] = [:]
        let counters: [(String, (RunReport) -> Int64)] = [
            ("created", { Int64($0.created) }), ("found", { Int64($0.found) }), ("live", { $0.live }),
            ("removedInline", { Int64($0.removedInline) }), ("removedByReaper", { Int64($0.removedByReaper) }),
            ("deferredByLockOrder", { Int64($0.deferredByLockOrder) }), ("expiredStillLinkedAtEnd", { Int64($0.expiredStillLinkedAtEnd) }),
        ]
        for (name, f) in counters {
            let v = runs.map(f)
            if v.min()! != v.max()! { varying[name] = [v.min()!, v.max()!] }
        }
        varyingCounters = varying
    }

    /// The repeat whose packets/s is the median (the one to show in full).
    public var medianRun: RunReport {
        runs.sorted { $0.packetsPerSecond < $1.packetsPerSecond }[runs.count / 2]
    }

    public var warnings: [String] { Array(Set(runs.flatMap(\.warnings))).sorted() }

    public var text: String {
        var o = "\nRepeats (\(runs.count); the full report above is the median run)\n"
        o += ReportFormatter.row("packets/s", packetsPerSecond.text(scale: 1e6, unit: " M"))
        o += ReportFormatter.row("latency p99", latencyP99Nanos.text(digits: 0, unit: " ns"))
        o += ReportFormatter.row("CPUs utilised", cpusUtilized.text())
        o += ReportFormatter.row("table counters", varyingCounters.isEmpty ? "identical in every repeat"
            : varyingCounters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value[0])…\($0.value[1])" }.joined(separator: ", "))
        for (i, r) in runs.enumerated() where !r.warnings.isEmpty {
            o += ReportFormatter.row("repeat \(i + 1)", "WARNING: " + r.warnings.joined(separator: "; "))
        }
        return o
    }
}
