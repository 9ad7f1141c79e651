#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

// Every lock the table takes goes through these helpers, so the rank checker
// and the contention counters see every acquisition.
extension BucketTable {
    @inline(__always)
    func readLock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        ctx.locks.willAcquire(.table, file: file, line: line)
        ctx.stats.tableLock.acquisitions &+= 1
        if !PThread.tryLockRW(rw, write: false) {
            PThread.rwLockContended(rw, write: false, &ctx.stats.tableLock, watch: ctx.locks.watch, rank: .table)
        }
    }

    @inline(__always)
    func writeLock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        ctx.locks.willAcquire(.table, file: file, line: line)
        ctx.stats.tableLock.acquisitions &+= 1
        if !PThread.tryLockRW(rw, write: true) {
            PThread.rwLockContended(rw, write: true, &ctx.stats.tableLock, watch: ctx.locks.watch, rank: .table)
        }
    }

    @inline(__always)
    func unlockTable(_ ctx: inout WorkerContext) {
        PThread.unlockRW(rw)
        ctx.locks.released(.table)
    }

    @inline(__always)
    func bucketPtr(_ i: Int) -> UnsafeMutablePointer<Bucket> { array.pointee.base + i }

    /// Preconditions: the table lock is held.
    @inline(__always)
    func lockBucket(_ i: Int, _ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        ctx.locks.willAcquire(.bucket(i), file: file, line: line)
        let b = bucketPtr(i)
        let m = b.pointer(to: \.mutex)!
        ctx.stats.bucketLock.acquisitions &+= 1
        if !PThread.tryLock(m) {
            PThread.lockContended(m, &ctx.stats.bucketLock, watch: ctx.locks.watch, rank: .bucket(i))
            b.pointee.contended &+= 1
        }
    }

    /// Preconditions: the table lock and bucket i are held.
    @inline(__always)
    func unlockBucket(_ i: Int, _ ctx: inout WorkerContext) {
        PThread.unlock(bucketPtr(i).pointer(to: \.mutex)!)
        ctx.locks.released(.bucket(i))
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

/// Takes a connection's lock through the rank checker and the contention
/// counters (shared by every table design).
@inline(__always)
func lockConnection(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext,
                    file: StaticString = #fileID, line: UInt = #line) {
    ctx.locks.willAcquire(.connection, file: file, line: line)
    let m = c.mutexPtr
    ctx.stats.connLock.acquisitions &+= 1
    if !PThread.tryLock(m) {
        PThread.lockContended(m, &ctx.stats.connLock, watch: ctx.locks.watch, rank: .connection)
    }
}

@inline(__always)
func unlockConnection(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) {
    PThread.unlock(c.mutexPtr)
    ctx.locks.released(.connection)
}
