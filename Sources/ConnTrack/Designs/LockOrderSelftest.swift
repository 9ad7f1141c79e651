import Sync

/// The detectors' lock-order self-test (`selftest lock-order-pair`, run by
/// `scripts/tsan-lockorder --self-test`): a design that can show a lock
/// pair taken in both orders declares it in `DesignTraits.lockOrderPairSelftest`.
public enum LockOrderSelftest {
    /// The designs that declare one, in registry order.
    public static var designs: [any ConnTrackTable.Type] {
        TableDesigns.all.filter { $0.traits.lockOrderPairSelftest != nil }
    }

    /// Runs `insert` on one thread, then `reap` on a second, never at once.
    /// The first thread stays alive (parked at the barrier) while the
    /// second runs, so the detector still knows its lock history; their
    /// critical sections never overlap, so the run cannot deadlock for real.
    static func inTurn(_ insert: @escaping @Sendable () -> Void, _ reap: @escaping @Sendable () -> Void) {
        let turn = Barrier(parties: 2)
        let a = OSThread { insert(); turn.wait(); turn.wait() }
        let b = OSThread { turn.wait(); reap(); turn.wait() }
        a.join()
        b.join()
    }
}
