#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex, as a `RankedLock` takes it.
public struct PThreadMutexRef: LockPrimitive {
    @usableFromInline let m: UnsafeMutablePointer<pthread_mutex_t>

    @inlinable @inline(__always)
    public init(_ m: UnsafeMutablePointer<pthread_mutex_t>) { self.m = m }

    @inlinable @inline(__always) public func tryLock() -> Bool { PThread.tryLock(m) }
    @inlinable @inline(__always) public func lockBlocking() { PThread.lock(m) }
    @inlinable @inline(__always) public func unlock() { PThread.unlock(m) }
}

/// A pthread reader/writer lock taken for reading or for writing, as a
/// `RankedLock` takes it.
public struct PThreadRWLockRef: LockPrimitive {
    @usableFromInline let l: UnsafeMutablePointer<pthread_rwlock_t>
    @usableFromInline let write: Bool

    @inlinable @inline(__always)
    public init(_ l: UnsafeMutablePointer<pthread_rwlock_t>, write: Bool) { self.l = l; self.write = write }

    @inlinable @inline(__always) public func tryLock() -> Bool { PThread.tryLockRW(l, write: write) }

    @inlinable @inline(__always) public func lockBlocking() { PThread.lockRW(l, write: write) }

    @inlinable @inline(__always) public func unlock() { PThread.unlockRW(l) }
}
