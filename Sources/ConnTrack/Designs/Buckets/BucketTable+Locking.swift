#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

// Every lock the table takes goes through these helpers and `RankedLock`,
// so the rank checker and the contention counters see every acquisition.
extension BucketTable {
    @inline(__always)
    func tableLock(write: Bool) -> RankedLock<PThreadRWLockRef> {
        RankedLock(PThreadRWLockRef(rw, write: write), rank: .table)
    }

    @inline(__always)
    func readLock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        tableLock(write: false).lock(&ctx.locks, counting: &ctx.stats.tableLock, file: file, line: line)
    }

    @inline(__always)
    func writeLock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        tableLock(write: true).lock(&ctx.locks, counting: &ctx.stats.tableLock, file: file, line: line)
    }

    /// Preconditions: the table lock is held (read or write).
    @inline(__always)
    func unlockTable(_ ctx: inout WorkerContext) {
        // Read and write locks release alike.
        tableLock(write: false).unlock(&ctx.locks)
    }

    @inline(__always)
    func bucketPtr(_ i: Int) -> UnsafeMutablePointer<Bucket> { array.pointee.base + i }

    @inline(__always)
    func bucketLock(_ i: Int) -> RankedLock<PThreadMutexRef> {
        RankedLock(PThreadMutexRef(bucketPtr(i).pointer(to: \.mutex)!), rank: .bucket(i))
    }

    /// Preconditions: the table lock is held.
    @inline(__always)
    func lockBucket(_ i: Int, _ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        if bucketLock(i).lock(&ctx.locks, counting: &ctx.stats.bucketLock, file: file, line: line) {
            bucketPtr(i).pointee.contended &+= 1
        }
    }

    /// Preconditions: the table lock and bucket i are held.
    @inline(__always)
    func unlockBucket(_ i: Int, _ ctx: inout WorkerContext) {
        bucketLock(i).unlock(&ctx.locks)
    }

    @inline(__always)
    func lockConn(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext,
                  file: StaticString = #fileID, line: UInt = #line) {
        lockConnection(c, &ctx, file: file, line: line)
    }

    @inline(__always)
    func unlockConn(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) {
        unlockConnection(c, &ctx)
    }
}
