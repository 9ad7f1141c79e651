#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

/// Quiescent-state reclamation of pool entries (the `fast` design): a
/// removed entry's index is retired, and handed back to the pool only
/// after every registered thread has passed a quiescent point since, so a
/// lock-free reader that loaded the index from a slot never sees the entry
/// reused under it. Nothing is freed; indexes are recycled.
final class IndexReclaimer: @unchecked Sendable {
    let epochs = QuiescentEpochs()
    /// The retire lock (rank: retire list, a leaf).
    let mutex = HeapMutex()
    /// protected by mutex: indexes retired since the last `collect`
    var fresh: [UInt32] = []
    /// protected by mutex: (epoch, indexes) waiting for every thread to pass it
    var pending: [(UInt64, [UInt32])] = []
    /// protected by mutex
    private(set) var recycledTotal = 0
    /// Set before the table is shared: when false, nothing is recycled.
    var enabled = true

    init() {
        fresh.reserveCapacity(4096)
    }

    /// Retires an entry removed from the index. Called with stripe locks
    /// held (it is a leaf).
    func retire(_ i: UInt32, _ ctx: inout WorkerContext) {
        mutex.lock(&ctx.locks, rank: .retireList)
        fresh.append(i)
        mutex.unlock(&ctx.locks, rank: .retireList)
    }

    /// Hands what every registered thread has moved past back to `pool`,
    /// and opens a new epoch for what was retired since the last call. The
    /// caller must be at a quiescent point itself.
    func collect(into pool: EntryPool, _ ctx: inout WorkerContext) {
        guard enabled else { return }
        mutex.lock(&ctx.locks, rank: .retireList)
        if !fresh.isEmpty {
            pending.append((epochs.advance(), fresh))
            fresh = []
            fresh.reserveCapacity(4096)
        }
        let minSeen = epochs.minSeen()
        var ready: [UInt32] = []
        pending.removeAll { e in
            guard minSeen > e.0 else { return false }
            ready.append(contentsOf: e.1)
            return true
        }
        recycledTotal += ready.count
        mutex.unlock(&ctx.locks, rank: .retireList)
        // The pool lock is taken after the retire lock is released: both
        // are leaves.
        pool.release(ready, &ctx)
    }

    /// Entries retired and not yet recycled.
    var backlog: Int {
        mutex.lock()
        defer { mutex.unlock() }
        return fresh.count + pending.reduce(0) { $0 + $1.1.count }
    }
}
