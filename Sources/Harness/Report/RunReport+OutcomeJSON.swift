/// A report, or repeats of one, as `run --json` writes it: the encoded
/// report with the `outcome` that decides the exit code beside its fields
/// (`RunReport.outcome` is computed from the checks, so the synthesised
/// encoding leaves it out; with repeats, the worst repeat's). Reading a
/// report back ignores the key and computes the outcome again.
public struct ReportWithOutcome<Report: Encodable>: Encodable {
    let report: Report
    public let outcome: RunOutcome

    public init(_ report: RunReport) where Report == RunReport {
        self.report = report
        outcome = report.outcome
    }

    public init(_ repeats: RepeatedRun) where Report == RepeatedRun {
        report = repeats
        outcome = repeats.runs.map(\.outcome).max { $0.exitCode < $1.exitCode } ?? .ok
    }

    enum Key: String, CodingKey { case outcome }

    public func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        // The same object: the encoder's keyed container at this level is shared.
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(outcome, forKey: .outcome)
    }
}
