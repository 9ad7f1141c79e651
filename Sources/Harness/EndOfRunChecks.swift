import ConnTrack
import Sync

/// The checks every run ends with, on a quiescent table: its structural
/// invariants, expired connections still linked, and one full reaper sweep
/// from slot 0 that must remove every expired connection unless the design
/// and variant are known to leave some (the 2020 walk).
struct EndOfRunChecks {
    var invariants: InvariantReport
    /// Expired connections still linked before the sweep.
    var expiredAtEnd: Int
    /// Expired connections still linked after the sweep.
    var survivingFullSweep: Int

    /// Preconditions: no worker or reaper thread uses the table.
    static func run<T: ConnTrackTable>(_ table: T, _ cfg: RunConfig, endTime: Int64) -> EndOfRunChecks {
        var inv = table._checkInvariants(uniqueIDs: nil)
        let expiredAtEnd = table.expiredCount(now: endTime)
        var ctx = WorkerContext(name: "final-sweep", checkLockOrder: cfg.checkLockOrder)
        _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: endTime, &ctx)
        let survivors = table.expiredCount(now: endTime)
        if survivors > 0 && T.traits.fullSweepRemovesAllExpired(cfg.table.variant) {
            inv.violations.append("\(survivors) expired connections survived a full reaper sweep")
        }
        return EndOfRunChecks(invariants: inv, expiredAtEnd: expiredAtEnd, survivingFullSweep: survivors)
    }
}
