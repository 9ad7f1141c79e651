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
    /// The lock of `pending` (rank: retire list, a leaf).
    let mutex = HeapMutex()
    /// Where entries are retired, one list per context's `retireShard`
    /// (modulo their count): threads that remove at once (workers, the
    /// parties of a split reaper pass) each take their own shard's lock,
    /// not one lock every removal would contend for, with its stripe
    /// locks held.
    let shards: [Shard]
    /// protected by mutex: (epoch, indexes) waiting for every thread to pass it
    var pending: [(UInt64, [UInt32])] = []
    /// protected by mutex
    private(set) var recycledTotal = 0
    /// Set before the table is shared: when false, nothing is recycled.
    var enabled = true

    static let shardCount = 8

    final class Shard: @unchecked Sendable {
        /// The shard's lock (rank: retire list, a leaf).
        let mutex = HeapMutex()
        /// protected by mutex: indexes retired here since the last `collect`
        var fresh: [UInt32] = []
        init() { fresh.reserveCapacity(1024) }
    }

    init() {
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// Retires an entry removed from the index. Called with stripe locks
    /// held (it is a leaf).
    func retire(_ i: UInt32, _ ctx: inout WorkerContext) {
        let s = shards[Int(ctx.retireShard) & (Self.shardCount - 1)]
        s.mutex.lock(&ctx.locks, rank: .retireList)
        s.fresh.append(i)
        s.mutex.unlock(&ctx.locks, rank: .retireList)
    }

    /// Hands what every registered thread has moved past back to `pool`,
    /// and opens a new epoch for what was retired since the last call. The
    /// caller must be at a quiescent point itself.
    func collect(into pool: EntryPool, _ ctx: inout WorkerContext) {
        guard enabled else { return }
        // Taken before the epoch advances: an entry is tagged with an
        // epoch opened after it was retired (or a later one).
        var retired: [UInt32] = []
        for s in shards {
            s.mutex.lock(&ctx.locks, rank: .retireList)
            if !s.fresh.isEmpty {
                retired += s.fresh
                s.fresh.removeAll(keepingCapacity: true)
            }
            s.mutex.unlock(&ctx.locks, rank: .retireList)
        }
        mutex.lock(&ctx.locks, rank: .retireList)
        if !retired.isEmpty { pending.append((epochs.advance(), retired)) }
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
        let retired = shards.reduce(0) { n, s in s.mutex.lock(); defer { s.mutex.unlock() }; return n + s.fresh.count }
        mutex.lock()
        defer { mutex.unlock() }
        return retired + pending.reduce(0) { $0 + $1.1.count }
    }
}
