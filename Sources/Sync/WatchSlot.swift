import struct Synchronization.Atomic

/// What one thread publishes for the deadlock watchdog: a progress counter,
/// the lock it is waiting for, and the locks it holds. Written with relaxed
/// atomics by its owner only, read by the watchdog thread.
public final class WatchSlot: Sendable {
    public let name: String
    /// Packets (or passes) completed.
    public let progress = Atomic<UInt64>(0)
    /// Rank value + 1 of the lock being waited for; 0 when not waiting.
    public let waitingFor = Atomic<Int>(0)
    /// Rank values + 1 of up to four held locks (0: empty). Filled only
    /// while the lock-rank checker runs, since only it knows what is held.
    let held0 = Atomic<Int>(0), held1 = Atomic<Int>(0), held2 = Atomic<Int>(0), held3 = Atomic<Int>(0)

    public init(name: String) { self.name = name }

    func setHeld(_ i: Int, _ rankPlusOne: Int) {
        switch i {
        case 0: held0.store(rankPlusOne, ordering: .relaxed)
        case 1: held1.store(rankPlusOne, ordering: .relaxed)
        case 2: held2.store(rankPlusOne, ordering: .relaxed)
        case 3: held3.store(rankPlusOne, ordering: .relaxed)
        default: break
        }
    }

    /// Rank values of the locks this thread held at its last update.
    public var heldRankValues: [Int] {
        [held0.load(ordering: .relaxed), held1.load(ordering: .relaxed),
         held2.load(ordering: .relaxed), held3.load(ordering: .relaxed)].filter { $0 != 0 }.map { $0 - 1 }
    }

    /// Human name of a rank value.
    public static func describe(rankValue v: Int) -> String { LockRank(value: v).description }
}
