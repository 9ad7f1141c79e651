/// The table behaviours that can be compared in one run.
public enum Variant: String, Sendable, CaseIterable, Codable {
    /// The July 2020 commit, defects included: the walk that stops after a
    /// removal and the creating packet that skips the tracker.
    case seed2020
    /// The same design with the walk, the insert re-check and the creating
    /// packet corrected.
    case fixed
}
