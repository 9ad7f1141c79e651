import struct Synchronization.Atomic
import struct Synchronization.AtomicLoadOrdering
import struct Synchronization.AtomicStoreOrdering

/// A lock of the declared order (`LockRank`): every ranked acquisition in
/// the package goes through `lock`, so the rank checker, the contention
/// counters and the deadlock watchdog see each one the same way.
///
/// A value is a handle made where the lock is taken (the lock itself lives
/// at a stable address: a bucket array, a connection block, a heap cell);
/// the counters it adds to are the caller's per-thread shard, so the packet
/// path touches nothing shared. Inlined and specialised, an uncontended
/// acquisition is the rank check's branch, an increment, and the try.
public struct RankedLock<Primitive: LockPrimitive> {
    public let primitive: Primitive
    public let rank: LockRank

    @inlinable @inline(__always)
    public init(_ primitive: Primitive, rank: LockRank) {
        self.primitive = primitive
        self.rank = rank
    }

    /// Takes the lock: checks the rank (when `locks` is enabled), counts
    /// the acquisition in `counters`, tries it, and on failure counts the
    /// contention and blocks. Returns true when it was contended (the
    /// caller may keep a per-lock record, under the lock it now holds).
    @inlinable @inline(__always) @discardableResult
    public func lock(_ locks: inout LockTracker, counting counters: inout LockCounters,
                     file: StaticString = #fileID, line: UInt = #line) -> Bool {
        locks.willAcquire(rank, file: file, line: line)
        counters.acquisitions &+= 1
        if primitive.tryLock() { return false }
        lockContended(&counters, watch: locks.watch)
        return true
    }

    /// Blocks on a lock whose try failed: counts the contention and the
    /// time waited, and tells the watchdog what this thread waits for. Out
    /// of line so the uncontended path stays a try and a branch.
    @inlinable @inline(never)
    func lockContended(_ counters: inout LockCounters, watch: WatchSlot?) {
        counters.contended &+= 1
        watch?.waitingFor.store(rank.value &+ 1, ordering: .relaxed)
        let t0 = monotonicNanos()
        primitive.lockBlocking()
        counters.waitNanos &+= UInt64(max(0, monotonicNanos() - t0))
        watch?.waitingFor.store(0, ordering: .relaxed)
    }

    /// Releases the lock and tells the rank checker.
    /// Preconditions: this thread holds it (taken through `lock`).
    @inlinable @inline(__always)
    public func unlock(_ locks: inout LockTracker) {
        primitive.unlock()
        locks.released(rank)
    }
}
