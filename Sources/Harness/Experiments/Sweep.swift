import ConnTrack

/// A grid of settings × worker counts, each point run `repeats` times.
/// The settings are whatever knobs the design and its reaper policy declare
/// (`SweepAxis`), so a sweep runs any registered design; the figures it
/// records are the catalogue's (`Metric.sweepColumns`).
public struct Sweep: Sendable {
    public var base: RunConfig
    public var axes: [SweepAxis]
    public var threads: [Int]
    public var repeats: Int
    /// Workloads: the most reaper CPU a recommended setting may use, as a
    /// share of one CPU were the workload played in real time (reaper CPU
    /// seconds over virtual seconds).
    public var reaperCPUBudget = 0.10

    public init(base: RunConfig, axes: [SweepAxis], threads: [Int], repeats: Int) throws(ConfigError) {
        guard !threads.isEmpty, threads.allSatisfy({ (1...64).contains($0) }) else {
            throw ConfigError("--threads-list takes worker counts in 1...64, got \(threads.map(String.init).joined(separator: ","))")
        }
        guard (1...20).contains(repeats) else { throw ConfigError("--repeats must be in 1...20, got \(repeats)") }
        guard !base.deterministic || threads == [1] else {
            throw ConfigError("--deterministic runs one worker: give --threads-list 1")
        }
        self.base = base; self.axes = axes; self.threads = threads; self.repeats = repeats
        let points = axes.reduce(threads.count) { $0 * $1.values.count }
        guard points <= 10_000 else { throw ConfigError("the sweep has \(points) points; at most 10000") }
        // Every point must be a valid run before the first one starts.
        for (settings, _) in grid() { _ = try config(settings) }
    }

    /// Every point's settings (axis values in axis order) and worker count.
    public func grid() -> [([Int], Int)] {
        var out: [[Int]] = [[]]
        for a in axes { out = out.flatMap { prefix in a.values.map { prefix + [$0] } } }
        return out.flatMap { s in threads.map { (s, $0) } }
    }

    /// The configuration of one point.
    public func config(_ settings: [Int], threads t: Int? = nil) throws(ConfigError) -> RunConfig {
        var c = base
        for (a, v) in zip(axes, settings) { a.apply(v, to: &c) }
        if let t { c.threads = t }
        try c.validate()
        return c
    }

    /// Runs every point (repeats back to back) and a sampled run of the
    /// middle point for the over-time plots; `progress` receives one line
    /// per point.
    public func run(progress: (String) -> Void) throws(ConfigError) -> SweepResult {
        let g = grid()
        var points: [SweepPoint] = []
        for (k, (settings, t)) in g.enumerated() {
            let c = try config(settings, threads: t)
            var runs: [RunReport] = []
            for _ in 0..<repeats { runs.append(try Runner.run(c)) }
            let p = SweepPoint(axes: axes, settings: settings, threads: t, RepeatedRun(runs))
            points.append(p)
            progress("[\(k + 1)/\(g.count)] \(p.label): \(Metric.packetsPerSecond.text(p.spread(.packetsPerSecond)!)) pkt/s"
                     + (p.flags.isEmpty ? "" : "  FLAGGED: " + p.flags.joined(separator: ", ")))
        }
        let midSettings = axes.map { $0.values[$0.values.count / 2] }
        let series: [Sample]
        if case .workload = base.source {
            // A workload's run already has its series (per virtual second):
            // the middle point's, at the fewest workers, instead of a run more.
            let t = threads.min()!
            let p = points.first { $0.threads == t && $0.settings.map(\.value) == midSettings }
            series = p?.repeats.medianRun.workload?.asSamples ?? []
        } else {
            var mid = try config(midSettings, threads: 1)
            mid.sampleSeconds = 0.05
            series = try Runner.run(mid).timeSeries
        }
        return SweepResult(sweep: self, points: points, series: series, seriesSettings: midSettings)
    }
}

/// One point of a sweep: its settings and the catalogue's figures over
/// its repeats.
public struct SweepPoint: Sendable {
    /// Axis name → value, in axis order.
    public var settings: [(name: String, value: Int)]
    public var threads: Int
    public var repeats: RepeatedRun
    /// Why a repeat cannot be trusted (starved, reaper behind), by kind.
    public var flags: [String]

    init(axes: [SweepAxis], settings: [Int], threads: Int, _ r: RepeatedRun) {
        self.settings = zip(axes, settings).map { ($0.name, $1) }
        self.threads = threads
        repeats = r
        flags = Array(Set(r.warnings.map { $0.split(separator: ":").first.map(String.init) ?? $0 })).sorted()
    }

    public func value(_ axis: String) -> Int? { settings.first { $0.name == axis }?.value }
    /// The figure's spread over the repeats.
    public func spread(_ m: Metric) -> Spread? { repeats.spread(m) }
    /// The figure's median over the repeats (the value plotted).
    public func median(_ m: Metric) -> Double? { spread(m)?.median }
    /// "buckets 4096, fraction 128, 2 worker(s)".
    public var label: String {
        (settings.map { "\($0.name) \($0.value)" } + ["\(threads) worker(s)"]).joined(separator: ", ")
    }
}

extension Metric {
    /// The figures `sweep` records per point, in CSV column order.
    public static let sweepColumns: [Metric] = [
        packetsPerSecond, latencyP99, establishedLookupRate, setupRate, teardownRate,
        chainP99, chainMean, loadFactor, live, expiredStillLinked, reaperBusySeconds, reaperCPUSeconds,
        reaperPasses, reaperPassesDue, contendedPercent, cpusUtilized, tableHeapBytes,
    ]

    /// `sweepColumns`, and for a workload its adaptivity figures.
    public static func sweepColumns(_ base: RunConfig) -> [Metric] {
        guard case .workload = base.source else { return sweepColumns }
        return sweepColumns + [worstRecovery, garbagePeak, peakRSS, catchUpReaperCPU]
    }
}
