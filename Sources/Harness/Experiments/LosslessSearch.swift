import CAllocStats
import ConnTrack

/// RFC 2544 §26.1's throughput, as RFC 9693 applies it to stateful
/// gateways: the highest rate at which the table drops nothing. A
/// preliminary full-speed run gives the starting rate (its packets per
/// second: one over the mean service time); paced trials of
/// `trialSeconds` each then binary-search the rate down to `resolution`;
/// the whole search is repeated `searches` times and the lowest result
/// kept. Every trial is a new run on a new table, on the same stream.
public enum LosslessSearch {
    public struct Settings: Sendable, Equatable {
        /// Seconds of arrivals per trial.
        public var trialSeconds: Double = 5
        /// The search stops when the passing and failing rates are within
        /// this share of the failing one.
        public var resolution: Double = 0.01
        /// Searches run; the lowest lossless rate is kept.
        public var searches: Int = 1

        public static let trialSecondsRange: ClosedRange<Double> = 0.1...3600
        public static let resolutionPercentRange: ClosedRange<Double> = 0.1...50
        public static let searchesRange: ClosedRange<Int> = 1...100

        public init() {}

        public func validate() throws(ConfigError) {
            guard Self.trialSecondsRange.contains(trialSeconds) else {
                throw ConfigError("--trial-seconds must be in 0.1...3600, got \(trialSeconds)")
            }
            guard Self.resolutionPercentRange.contains(resolution * 100) else {
                throw ConfigError("--resolution must be in 0.1...50 percent, got \(resolution * 100)")
            }
            guard Self.searchesRange.contains(searches) else {
                throw ConfigError("--searches must be in 1...100, got \(searches)")
            }
        }
    }

    /// Runs the search with rings of `ring` descriptors: `trial` runs one
    /// configuration (a capture's runs need their file), `progress` hears
    /// of each trial as it ends.
    public static func run(_ cfg: RunConfig, _ s: Settings, ring: Int, trial runOne: (RunConfig) throws -> RunReport,
                           progress: (String) -> Void = { _ in }) throws -> LosslessReport {
        // Free heap goes back before each trial; a caller that runs trials
        // in this process should still know that glibc's malloc can stall
        // in one allocation on the heap an earlier run freed (the CLI runs
        // each trial as a child process).
        func trial(_ c: RunConfig) throws -> RunReport {
            ct_release_free_memory()
            return try runOne(c)
        }
        var full = cfg
        full.pacing = nil
        let preliminary = try trial(full)
        let meanCost = preliminary.packetsPerSecond
        let top = max(cfg.threads, Int(meanCost.rounded(.up)))
        progress("preliminary: full speed, \(ReportFormatter.num(Int(meanCost))) packets/s")
        // One stream for every trial, long enough for the fastest.
        var paced = cfg
        if case .scenario = cfg.source {
            paced.scenario.packets = max(cfg.scenario.packets, Int((Double(top) * s.trialSeconds * 1.02).rounded(.up)) + ring * cfg.threads)
        }
        var report = LosslessReport(meanCostRate: meanCost, losslessRate: 0, searchResults: [], trials: [],
                                    trialSeconds: s.trialSeconds, resolutionPercent: s.resolution * 100, ring: ring,
                                    threads: cfg.threads, firstDrops: nil, preliminary: preliminary)
        var kept: (rate: Int, failing: LosslessTrial?)? = nil
        for k in 0..<s.searches {
            var lo = 0
            var hi = top
            var failing: LosslessTrial? = nil
            var trials: [LosslessTrial] = []
            func attempt(_ rate: Int) throws -> Bool {
                var c = paced
                c.pacing = Pacing(rate: rate, ring: ring)
                c.pacing!.seconds = s.trialSeconds
                try c.validate()
                let r = try trial(c)
                let t = LosslessTrial(rate: rate, report: r, trialSeconds: s.trialSeconds)
                trials.append(t)
                progress("search \(k + 1): \(ReportFormatter.num(rate)) packets/s: " + t.summary)
                if !t.passed && (failing == nil || rate < failing!.rate) { failing = t }
                return t.passed
            }
            if try attempt(hi) {
                lo = hi
            } else {
                while Double(hi - lo) > max(1, s.resolution * Double(hi)) {
                    let mid = lo + (hi - lo) / 2
                    if try attempt(mid) { lo = mid } else { hi = mid }
                }
            }
            report.searchResults.append(lo)
            report.trials.append(trials)
            if kept == nil || lo < kept!.rate { kept = (lo, failing) }
        }
        report.losslessRate = kept?.rate ?? 0
        report.firstDrops = kept?.failing
        return report
    }
}

/// One paced trial of the search.
public struct LosslessTrial: Codable, Sendable, Equatable {
    public var rate: Int
    public var arrived: Int
    public var dropped: Int
    /// Nothing dropped, and every packet of the trial's length arrived.
    public var passed: Bool
    /// The stream ended before the trial's length (a capture too short for
    /// the rate): such a trial cannot pass.
    public var shortened: Bool
    public var highWater: Int
    public var queueingP99Nanos: Double
    public var queueingMaxNanos: Double
    public var longestPause: PacedReport.Pause?
    public var cpusUtilized: Double
    /// The run's flags (a busy machine, a starved worker), if any.
    public var flags: [String]

    init(rate: Int, report r: RunReport, trialSeconds: Double) {
        let p = r.paced!
        self.rate = rate
        arrived = p.arrived
        dropped = p.dropped
        // Each worker's ring receives its share for the trial's length.
        let expected = (0..<r.threads).reduce(0) { n, w in
            let share = rate / r.threads + (w < rate % r.threads ? 1 : 0)
            return n + max(1, Int(Double(max(1, share)) * trialSeconds))
        }
        shortened = p.arrived < expected
        passed = p.dropped == 0 && !shortened && r.outcome == .ok
        highWater = p.highWater
        queueingP99Nanos = p.queueingNanos.p99
        queueingMaxNanos = p.queueingNanos.max
        longestPause = p.longestPause
        cpusUtilized = r.cpu.cpusUtilized
        flags = (r.cpu.flags ?? []).map(\.reason)
    }

    var summary: String {
        (passed ? "no drop" : shortened ? "the stream ended early (\(ReportFormatter.num(arrived)) packets)" : "\(ReportFormatter.num(dropped)) dropped")
            + ", high-water \(ReportFormatter.num(highWater)), longest pause "
            + (longestPause.map { ReportFormatter.f(Double($0.nanos) / 1e6, 3) + " ms" } ?? "-")
            + (flags.isEmpty ? "" : " [flagged: busy machine]")
    }
}

/// What `run --find-lossless-rate` found.
public struct LosslessReport: Codable, Sendable {
    /// The full-speed run's packets per second: one over the mean cost.
    public var meanCostRate: Double
    /// The lowest of the searches' results, packets per second (0: even
    /// the lowest rate tried dropped).
    public var losslessRate: Int
    public var searchResults: [Int]
    /// Each search's trials, in the order they ran.
    public var trials: [[LosslessTrial]]
    public var trialSeconds: Double
    public var resolutionPercent: Double
    public var ring: Int
    public var threads: Int
    /// The lowest failing trial of the search whose result was kept: the
    /// first drops above the lossless rate, and the pause behind them.
    public var firstDrops: LosslessTrial?
    public var preliminary: RunReport

    public var text: String {
        func num(_ v: Int) -> String { ReportFormatter.num(v) }
        var o = "Lossless rate (RFC 2544 §26.1 binary search, as RFC 9693 uses it): ring of \(num(ring)) descriptors per worker, "
            + "\(threads) worker(s), trials of \(ReportFormatter.f(trialSeconds, 1)) s, resolution \(ReportFormatter.f(resolutionPercent, 1)) %, "
            + "\(searchResults.count) search(es), lowest kept\n"
        o += ReportFormatter.row("mean-cost rate", num(Int(meanCostRate.rounded())) + " packets/s (full speed: one over the mean service time)")
        let share = meanCostRate > 0 ? " (" + ReportFormatter.f(Double(losslessRate) / meanCostRate, 2) + " of it)" : ""
        o += ReportFormatter.row("lossless rate", num(losslessRate) + " packets/s" + share
                                 + (searchResults.count > 1 ? "; searches " + searchResults.map { num($0) }.joined(separator: ", ") : ""))
        if let f = firstDrops {
            o += ReportFormatter.row("first drops above it", "at \(num(f.rate)) packets/s: " + f.summary)
            if let p = f.longestPause {
                o += ReportFormatter.row("the pause behind them", ReportFormatter.f(Double(p.nanos) / 1e6, 3) + " ms (\(p.kind), worker \(p.worker)): " + p.cause)
            }
        } else if losslessRate > 0 {
            o += ReportFormatter.row("first drops above it", "none: the full-speed rate itself dropped nothing (the rings absorbed every pause)")
        }
        for (k, ts) in trials.enumerated() {
            let list: [String] = ts.map { t in num(t.rate) + (t.passed ? " ok" : " drop") }
            o += ReportFormatter.row("search \(k + 1) trials", list.joined(separator: ", "))
        }
        let flagged = trials.joined().filter { !$0.flags.isEmpty }.count
        if flagged > 0 {
            o += ReportFormatter.row("warning", "\(flagged) trial(s) ran on a busy machine (the run flagged it): their pauses include other processes' time")
        }
        return o
    }
}
