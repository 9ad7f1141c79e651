/// Several repeats of one configuration: every report, and the spread of
/// the figures that vary between them. Which figures are spread and which
/// counters are checked against the stated bound comes from the metric
/// catalogue.
public struct RepeatedRun: Codable, Sendable {
    public static let schemaVersion = RunReport.schemaVersion
    public var schemaVersion = RepeatedRun.schemaVersion
    public var kind = "repeats"
    public var packetsPerSecond: Spread
    public var latencyP99Nanos: Spread
    public var cpusUtilized: Spread
    /// Counters that differ between the repeats (catalogue id: min…max).
    public var varyingCounters: [String: [Int64]]
    public var runs: [RunReport]

    public init(_ runs: [RunReport]) {
        precondition(!runs.isEmpty, "repeats need at least one run")
        self.runs = runs
        packetsPerSecond = Spread(runs.map(\.packetsPerSecond))
        latencyP99Nanos = Spread(runs.map(\.latencyNanos.p99))
        cpusUtilized = Spread(runs.map(\.cpu.cpusUtilized))
        var varying: [String: [Int64]] = [:]
        for m in Metric.counters {
            // A recovery that never came is infinite: not a count to range.
            let v = runs.compactMap { m.value($0) }.filter(\.isFinite).map { Int64($0.rounded()) }
            guard let lo = v.min(), let hi = v.max(), lo != hi else { continue }
            varying[m.id] = [lo, hi]
        }
        varyingCounters = varying
    }

    /// The spread of `metric` over the repeats (nil: no repeat has it).
    public func spread(_ metric: Metric) -> Spread? {
        let v = runs.compactMap { metric.value($0) }
        return v.isEmpty ? nil : Spread(v)
    }

    /// The repeat whose packets/s is the median (the one to show in full).
    public var medianRun: RunReport {
        runs.sorted { $0.packetsPerSecond < $1.packetsPerSecond }[runs.count / 2]
    }

    public var warnings: [String] { Array(Set(runs.flatMap(\.warnings))).sorted() }

    /// Each bounded counter that varies, with its spread measured against
    /// the bound the runs' determinism report states: (max − min) over the
    /// connections created (connection counters) or over the counter's
    /// largest value (event counters).
    public var boundChecks: [BoundCheck] {
        let d = runs[0].determinism
        let created = Double(runs.map(\.created).max() ?? 0)
        return Metric.counters.compactMap { m -> BoundCheck? in
            guard case .bounded(let base) = m.kind, let s = spread(m), s.max != s.min else { return nil }
            let denominator = base == .connections ? created : s.max
            let share = denominator > 0 ? (s.max - s.min) / denominator : 0
            let bound = base == .connections ? d.connectionCounterBound : d.eventCounterBound
            return BoundCheck(metric: m, share: share, bound: bound)
        }
    }

    /// A bounded counter's measured spread against its stated bound.
    public struct BoundCheck: Sendable {
        public var metric: Metric
        /// (max − min) over the bound's base.
        public var share: Double
        /// The stated bound (nil: the mode states none).
        public var bound: Double?
        public var within: Bool { bound.map { share <= $0 } ?? true }
    }

    public var text: String {
        var o = "\nRepeats (\(runs.count); the full report above is the median run)\n"
        for m in [Metric.packetsPerSecond, .latencyP99, .cpusUtilized] {
            if let s = spread(m) { o += ReportFormatter.row(m.name, m.text(s)) }
        }
        o += ReportFormatter.row("table counters", varyingCounters.isEmpty ? "identical in every repeat"
            : varyingCounters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value[0])…\($0.value[1])" }.joined(separator: ", "))
        let checks = boundChecks
        if !checks.isEmpty {
            o += ReportFormatter.row("spread vs stated bound", checks.map { c in
                "\(c.metric.id) \(ReportFormatter.f(c.share * 100, 4)) %" + (c.bound.map { " of \(ReportFormatter.f($0 * 100, 2)) %" + (c.within ? "" : " EXCEEDED") } ?? " (no bound)")
            }.joined(separator: ", "))
        }
        for (i, r) in runs.enumerated() where !r.warnings.isEmpty {
            o += ReportFormatter.row("repeat \(i + 1)", "WARNING: " + r.warnings.joined(separator: "; "))
        }
        return o
    }
}
