/// Result of one reaper pass, in the units of the design's `sweepSlots`.
public struct ReapPassResult: Sendable, Equatable {
    /// Where the next pass starts (not wrapped: designs take it modulo
    /// their slot count, as the seed's `reapUnused` does).
    public var nextStart: Int
    public var slotsScanned: Int
    /// Tuples (or entries) checked, and those found expired.
    public var checked: Int
    public var expired: Int
    /// Connections removed.
    public var removed: Int
    /// Expired tuples left in place because lock order forbade the removal.
    public var deferred: Int
    /// Sum and count of the time to expiry of live tuples checked (for the
    /// Linux 2022 policy's average). Exact, so that a pass computed from a
    /// `SweepSummary` gives the same sum as a walk.
    public var remainingSum: Int128
    public var liveChecked: Int
    /// The pass stopped at its eviction cap before its slot budget.
    public var stoppedEarly: Bool

    public init(nextStart: Int = 0, slotsScanned: Int = 0, checked: Int = 0, expired: Int = 0, removed: Int = 0,
                deferred: Int = 0, remainingSum: Int128 = 0, liveChecked: Int = 0, stoppedEarly: Bool = false) {
        self.nextStart = nextStart; self.slotsScanned = slotsScanned; self.checked = checked; self.expired = expired
        self.removed = removed; self.deferred = deferred; self.remainingSum = remainingSum
        self.liveChecked = liveChecked; self.stoppedEarly = stoppedEarly
    }
}

/// What a read-only scan found in one sweep slot: what `reapPass` would
/// count there (see `ConnTrackTable.scanForReap`).
public struct ReapSlotTally: Sendable, Equatable {
    public var checked = 0
    /// Expired: what a pass at the same now would find expired here.
    public var expired = 0
    /// Of `expired`, those the pass would leave in place because lock
    /// order forbids the removal (the bucket table); the rest it removes.
    public var deferred = 0
    public var liveChecked = 0
    public var remainingSum: Int128 = 0
    public init() {}
}
