/// Computed passes since an anchor, kept to spot a period: once the reaper's
/// state (interval, next start, policy state) is back at the anchor's over
/// an unchanged table, the passes that follow repeat the ones since the
/// anchor, and whole periods can be added at once.
struct PassCycle {
    struct State: Equatable {
        var interval: Int64
        var nextStart: Int
        var policy: ReaperPolicyChoice
    }

    /// The counters a computed pass changes, at the anchor.
    struct Counters {
        var passes: Int
        var checked: Int
        var tableLocks: UInt64
        var bucketLocks: UInt64
        var connLocks: UInt64
    }

    let state: State
    let nextDue: Int64
    let counters: Counters
    /// Each pass since the anchor: its due time after the anchor's, and the
    /// interval before it (what its lateness is judged against).
    var steps: [(offset: Int64, intervalBefore: Int64)] = []

    /// Passes looked at before the anchor moves to the current state, with
    /// twice the patience (Brent's cycle finding: a period of λ passes after
    /// μ passes of settling, as the seed's interval needs while it grows, is
    /// found within about 2(μ + λ) passes).
    var patience = 2

    /// How many of the passes in `periods` repeats of the steps, the first
    /// starting at `start`, ran more than their interval after they were due
    /// when run at `observed`.
    func latePasses(periods m: Int64, period: Int64, start: Int64, observed: Int64) -> Int64 {
        var late: Int64 = 0
        for s in steps {
            // Late in repeat p when observed − (start + p·period + offset) > interval.
            let x = observed &- start &- s.offset &- s.intervalBefore
            if x > 0 { late += min(m, (x - 1) / period + 1) }
        }
        return late
    }
}
