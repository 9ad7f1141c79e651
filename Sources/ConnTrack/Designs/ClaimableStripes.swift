#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

/// One stripe lock on its own cache line (`linux`, `fast`): it guards the
/// chains of the buckets its table maps to it.
struct LockStripe {
    var mutex: pthread_mutex_t
    /// protected by mutex: acquisitions that found it held
    var contended: UInt64
    var pad: (UInt64, UInt64) = (0, 0)
}

/// A table whose writers take striped locks and whose resize claims every
/// stripe at once (`linux`, `fast`): Linux's `nf_conntrack_lock` against
/// `nf_conntrack_all_lock`. A resize holds the all-stripes lock and raises
/// the flag; a writer's first stripe, taken while the flag is up, is let go
/// and taken again behind the all-stripes lock, so the writer parks (on a
/// mutex, not spinning) until the resize is done.
protocol ClaimableStripes: AnyObject {
    /// A resize has claimed the stripes (`nf_conntrack_locks_all`).
    var stripesClaimed: Bool { get }
    /// The stripe locks.
    var stripes: UnsafeMutablePointer<LockStripe> { get }
    /// The all-stripes lock a resize holds (rank: table, before every stripe).
    var allLock: UnsafeMutablePointer<pthread_mutex_t> { get }
}

extension ClaimableStripes {
    @inline(__always)
    func stripeLock(_ i: Int) -> RankedLock<PThreadMutexRef> {
        RankedLock(PThreadMutexRef((stripes + i).pointer(to: \.mutex)!), rank: .bucket(i))
    }

    /// Stripe i alone, its contention counted: a second stripe, or a
    /// resize's drain (`spin_lock`).
    @inline(__always)
    func lockStripePlain(_ i: Int, _ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        if stripeLock(i).lock(&ctx.locks, counting: &ctx.stats.bucketLock, file: file, line: line) {
            stripes[i].contended &+= 1
        }
    }

    @inline(__always)
    var allStripesLock: RankedLock<PThreadMutexRef> { RankedLock(PThreadMutexRef(allLock), rank: .table) }

    /// A first stripe (`nf_conntrack_lock`).
    @inline(__always)
    func lockStripe(_ i: Int, _ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        lockStripePlain(i, &ctx, file: file, line: line)
        if stripesClaimed { lockStripeAfterResize(i, &ctx, file: file, line: line) }
    }

    /// Preconditions: this thread holds stripe i and no other.
    @inline(never)
    func lockStripeAfterResize(_ i: Int, _ ctx: inout WorkerContext, file: StaticString, line: UInt) {
        unlockStripe(i, &ctx)
        lockAll(&ctx)
        lockStripePlain(i, &ctx, file: file, line: line)
        unlockAll(&ctx)
    }

    /// Preconditions: this thread holds stripe i.
    @inline(__always)
    func unlockStripe(_ i: Int, _ ctx: inout WorkerContext) { stripeLock(i).unlock(&ctx.locks) }

    func lockAll(_ ctx: inout WorkerContext) { allStripesLock.lock(&ctx.locks, counting: &ctx.stats.tableLock) }

    /// Preconditions: this thread holds the all-stripes lock.
    func unlockAll(_ ctx: inout WorkerContext) { allStripesLock.unlock(&ctx.locks) }
}
