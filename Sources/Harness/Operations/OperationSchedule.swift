import ConnTrack

/// Operations on the running table (`--op KIND@T`): what, and when in
/// virtual seconds (`every:S` for a period from S).
public struct OperationSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// `conntrack -L`: every connection listed while packets flow.
        case dump
        /// `conntrack -S`: the counters, summed over the workers.
        case stats
    }

    public var kind: Kind
    /// Virtual seconds of the first run.
    public var at: Double
    /// Virtual seconds between runs; nil: once.
    public var every: Double?

    public init(kind: Kind, at: Double, every: Double? = nil) {
        self.kind = kind
        self.at = at
        self.every = every
    }

    public var description: String { kind.rawValue + "@" + (every.map { "every:\(ReportFormatter.f($0, 3))" } ?? ReportFormatter.f(at, 3)) }

    /// `KIND@SECONDS` or `KIND@every:SECONDS`.
    public static func parse(_ text: String) throws(ConfigError) -> OperationSpec {
        let kinds = Kind.allCases.map(\.rawValue).joined(separator: ", ")
        let usage = "--op must be KIND@SECONDS or KIND@every:SECONDS (KIND one of \(kinds); seconds of virtual time, 0...1e9, a period above 0), got '\(text)'"
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])) else { throw ConfigError(usage) }
        let when = String(parts[1])
        if when.hasPrefix("every:") {
            guard let s = Double(when.dropFirst(6)), s > 0, s <= 1e9, s.isFinite else { throw ConfigError(usage) }
            return OperationSpec(kind: kind, at: s, every: s)
        }
        guard let t = Double(when), t >= 0, t <= 1e9, t.isFinite else { throw ConfigError(usage) }
        return OperationSpec(kind: kind, at: t)
    }
}
