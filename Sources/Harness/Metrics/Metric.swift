/// One measured figure, declared once: what it is called, its unit, where
/// it sits in the JSON report, its `conntrack -S` name, how far it can vary
/// between identical runs, which way is better, and how it is computed from
/// a report. The text report, `compare`, `sweep`, `diff` and the spreads of
/// `--repeats` all read figures through here, so a new figure is one entry
/// in the catalogue (`Metric+Catalogue.swift`) plus the counter that feeds it.
public struct Metric: Sendable, Identifiable, CustomStringConvertible {
    /// How far a figure can differ between runs with the same options and seeds.
    public enum Kind: Sendable, Equatable {
        /// Fixed by the options and seeds in a deterministic run; a
        /// multi-worker run states no bound for it (chain lengths, lock counts).
        case deterministic
        /// Fixed in a deterministic run, and within the bound the report
        /// states in a lock-step run (`DeterminismReport`).
        case bounded(Bound)
        /// Wall-clock or process-wide: varies between identical runs.
        case timing

        public var isCounter: Bool { self != .timing }

        /// "deterministic", "bounded (share of created)", "timing".
        public var label: String {
            switch self {
            case .deterministic: "deterministic"
            case .bounded(.connections): "bounded: share of connections created"
            case .bounded(.events): "bounded: share of its own value"
            case .timing: "timing"
            }
        }
    }

    /// What a bounded counter's stated bound is a share of.
    public enum Bound: Sendable, Equatable {
        /// `DeterminismReport.connectionCounterBound` × connections created.
        case connections
        /// `DeterminismReport.eventCounterBound` × the counter's own value.
        case events
    }

    /// Stable identifier: the JSON key path when the figure is a field of
    /// the report, otherwise a name of its own (derived figures).
    public let id: String
    /// Display name (text report, `compare` rows, `diff`, plot axes).
    public let name: String
    /// Unit as shown ("packets/s", "ns", "connections", "%").
    public let unit: String
    /// Key path of the figure in `run --json` ("latencyNanos.p99"); nil for
    /// a figure derived from several fields.
    public let jsonKey: String?
    /// The field's name in `conntrack -S`, where one means the same thing.
    public let conntrackName: String?
    public let kind: Kind
    /// true: higher is better; false: lower is better; nil: neither.
    public let higherIsBetter: Bool?
    /// Display: divide by `scale` and show `digits` decimals, then `suffix`.
    public let scale: Double
    public let digits: Int
    public let suffix: String
    /// Shown for an infinite value ("-": none).
    public let infinity: String
    /// One line: what is counted or timed.
    public let summary: String
    /// The figure from a report (nil: the report does not have it).
    public let value: @Sendable (RunReport) -> Double?

    public init(_ id: String, name: String, unit: String, jsonKey: String?, conntrack: String? = nil,
                kind: Kind, higherIsBetter: Bool?, scale: Double = 1, digits: Int = 0, suffix: String = "",
                infinity: String = "-", summary: String, value: @escaping @Sendable (RunReport) -> Double?) {
        self.id = id; self.name = name; self.unit = unit; self.jsonKey = jsonKey; self.conntrackName = conntrack
        self.kind = kind; self.higherIsBetter = higherIsBetter; self.scale = scale; self.digits = digits
        self.suffix = suffix; self.infinity = infinity; self.summary = summary; self.value = value
    }

    /// A counter read from the report as an integer.
    public static func counter(_ id: String, _ name: String, unit: String = "connections", conntrack: String? = nil,
                               kind: Kind, higherIsBetter: Bool? = nil, summary: String,
                               _ value: @escaping @Sendable (RunReport) -> Double?) -> Metric {
        Metric(id, name: name, unit: unit, jsonKey: id, conntrack: conntrack, kind: kind,
               higherIsBetter: higherIsBetter, summary: summary, value: value)
    }

    public var description: String { id }

    /// `v` as displayed ("12.34 M", "512", "0.125").
    public func format(_ v: Double) -> String {
        if v.isNaN { return "-" }
        if v.isInfinite { return infinity }
        if digits == 0 && scale == 1 && abs(v) < 1e18 { return ReportFormatter.num(Int64(v.rounded())) + suffix }
        return ReportFormatter.f(v / scale, digits) + suffix
    }

    /// The figure of `r` as displayed, "-" when the report lacks it.
    public func text(_ r: RunReport) -> String { value(r).map(format) ?? "-" }

    /// A spread of this figure, displayed in its unit: "mean ± σ (min … max)".
    public func text(_ s: Spread) -> String {
        s.n == 1 ? format(s.mean) : "\(format(s.mean)) ± \(format(s.stddev)) (\(format(s.min)) … \(format(s.max)))"
    }

    /// The name, with the unit when the displayed value does not carry it
    /// ("latency p99 (ns)", "created").
    public var label: String {
        suffix.isEmpty && unit.count <= 3 && !name.contains(unit) ? "\(name) (\(unit))" : name
    }
}
