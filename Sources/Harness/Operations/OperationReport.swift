import ConnTrack

/// One operation on the running table, and what it cost the packets.
public struct OperationReport: Codable, Sendable, Equatable {
    public var kind: String
    /// The `--op` it came from, as given.
    public var spec: String
    /// When it was due and when it started, virtual seconds.
    public var dueSeconds: Double
    public var startedAtSeconds: Double
    /// Wall time from the run's start to the operation's, seconds.
    public var wallOffsetSeconds: Double
    /// The operation on the table (a dump's walk), wall-clock ms.
    public var durationMillis: Double
    /// A dump: formatting its `conntrack -L` lines after the walk, outside
    /// every lock, ms (not in `durationMillis` or the figures during it).
    public var formatMillis: Double? = nil
    /// What the walk did (visited entries, connections listed, repeats).
    public var counts: OperationCounts?
    /// `dump`: bytes of `conntrack -L` lines it formatted.
    public var bytes: Int?
    /// `stats`: the counters, summed over the workers as published.
    public var stats: [String: UInt64]?
    /// Packets the workers processed while it ran, and per second; the
    /// same rate over the second before it.
    public var packetsDuring: Int
    public var packetsPerSecondDuring: Double
    public var packetsPerSecondBefore: Double?
    /// How much history "before" covers: a second, or less when the
    /// operation came earlier in the run (nil under 0.1 s: not given).
    public var beforeSeconds: Double?
    /// The sampled per-packet latency while it ran and in the second
    /// before it, ns.
    public var latencyDuring: LatencySummary?
    public var latencyBefore: LatencySummary?
    /// What the workers waited for locks while it ran and in the 60 ms
    /// after, ms (their counters as published at their batch ends: a
    /// worker held up by the operation publishes after it).
    public var workerLockWaitMillis: Double
    /// Packets per millisecond from 50 ms before the operation to 50 ms
    /// after it (at most 10,000 points), for the plot.
    public var perMillisecond: [Int]
    public var perMillisecondStartOffsetMillis: Double

    public struct LatencySummary: Codable, Sendable, Equatable {
        public var samples: Int
        public var p50: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        static func of(_ values: [UInt64]) -> LatencySummary? {
            guard !values.isEmpty else { return nil }
            let v = values.sorted()
            func pct(_ p: Double) -> Double {
                let rank = Int((Double(v.count) * p / 100).rounded(.up)) - 1
                return Double(v[Swift.min(v.count - 1, Swift.max(0, rank))])
            }
            return LatencySummary(samples: v.count, p50: pct(50), p99: pct(99), p999: pct(99.9), max: Double(v.last!))
        }
    }
}

/// Every operation of a run, and the ones the run ended before.
public struct OperationsReport: Codable, Sendable, Equatable {
    public var operations: [OperationReport]
    /// Operations still due when the packets ran out, as `KIND@SECONDS`.
    public var notRun: [String]
}
