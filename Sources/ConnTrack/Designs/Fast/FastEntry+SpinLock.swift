#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

/// An entry's lock word (0 free, 1 held) as a lock primitive: a held entry
/// lock covers a few dozen instructions of tracker update, so a waiter
/// spins rather than sleeps.
struct EntrySpinLock: LockPrimitive {
    let entry: UnsafeMutablePointer<FastEntry>

    @inline(__always)
    func tryLock() -> Bool {
        entry.lockWord.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
    }

    func lockBlocking() {
        var spins = 0
        while true {
            if entry.lockWord.pointee.load(ordering: .relaxed) == 0, tryLock() { return }
            spins += 1
            // Two cores and more threads than that: a holder that was
            // preempted needs the CPU, so yield soon.
            if spins > 64 { sched_yield() }
        }
    }

    @inline(__always)
    func unlock() { entry.lockWord.pointee.store(0, ordering: .releasing) }
}

extension UnsafeMutablePointer where Pointee == FastEntry {
    /// The entry lock as a lock of the declared order.
    @inline(__always)
    var rankedLock: RankedLock<EntrySpinLock> { RankedLock(EntrySpinLock(entry: self), rank: .connection) }
}
