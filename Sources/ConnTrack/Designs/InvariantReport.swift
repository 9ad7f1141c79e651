/// What `_checkInvariants` and the end-of-run checks found.
public struct InvariantReport: Sendable, Equatable, Codable, CustomStringConvertible {
    public var tuples = 0
    public var connections = 0
    /// Tuple ids present more than once (seed2020 can create these).
    public var duplicateIDs = 0
    public var violations: [String] = []

    public init() {}

    public var ok: Bool { violations.isEmpty }

    /// One line: "invariants hold: …" or the first violations.
    public var summary: String {
        ok ? "invariants hold: \(connections) connections, \(tuples) tuples, \(duplicateIDs) duplicate ids"
                + (duplicateIDs > 0 ? Self.duplicatesNote : "")
           : "invariant violations (\(violations.count)): " + violations.prefix(5).joined(separator: "; ")
    }

    public var description: String { summary }

    /// Duplicates pass the check only where the design's rules allow them:
    /// seed2020, which reproduces the 2020 walk.
    static let duplicatesNote = " (the 2020 defect, reproduced on purpose: a walk stops at the first tuple it reaps, so a lookup can miss a live tuple further down and create a second connection for its flow)"

    enum CodingKeys: String, CodingKey { case ok, summary, tuples, connections, duplicateIDs, violations }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tuples = try c.decode(Int.self, forKey: .tuples)
        connections = try c.decode(Int.self, forKey: .connections)
        duplicateIDs = try c.decode(Int.self, forKey: .duplicateIDs)
        violations = try c.decode([String].self, forKey: .violations)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encode(summary, forKey: .summary)
        try c.encode(tuples, forKey: .tuples)
        try c.encode(connections, forKey: .connections)
        try c.encode(duplicateIDs, forKey: .duplicateIDs)
        try c.encode(violations, forKey: .violations)
    }
}
