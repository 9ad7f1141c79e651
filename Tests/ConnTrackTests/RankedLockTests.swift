#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import ConnTrack
import Sync
import Testing
import TestSupport

// The one ranked, counted acquisition every table lock goes through.
@Suite struct RankedLockTests {
    /// A heap mutex for one test (freed by the caller).
    func makeMutex() -> UnsafeMutablePointer<pthread_mutex_t> {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        PThread.initMutex(m)
        return m
    }

    func freeMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        PThread.destroyMutex(m)
        m.deallocate()
    }

    @Test(.oneThread) func anUncontendedAcquisitionIsCountedAndTracked() {
        let m = makeMutex()
        defer { freeMutex(m) }
        var locks = LockTracker(enabled: true, threadName: "t")
        var counters = LockCounters()
        let lock = RankedLock(PThreadMutexRef(m), rank: .bucket(3))
        #expect(!lock.lock(&locks, counting: &counters))
        #expect(locks.heldRanks == [.bucket(3)])
        lock.unlock(&locks)
        #expect(locks.heldRanks.isEmpty)
        #expect(counters.acquisitions == 1 && counters.contended == 0 && counters.waitNanos == 0)
    }

    @Test func aHeldLockIsCountedAsContendedThenTaken() {
        let m = makeMutex()
        defer { freeMutex(m) }
        PThread.lock(m)
        // A second thread finds it held, and gets it once this one lets go.
        // It says it waits (through its watch slot) only after its try
        // failed, so the release waits for that: no timing decides it.
        nonisolated(unsafe) var counters = LockCounters()
        nonisolated(unsafe) var contended = false
        nonisolated(unsafe) let mm = m
        let slot = WatchSlot(name: "waiter")
        let t = OSThread {
            var locks = LockTracker(enabled: false, threadName: "waiter")
            locks.watch = slot
            let lock = RankedLock(PThreadMutexRef(mm), rank: .connection)
            contended = lock.lock(&locks, counting: &counters)
            lock.unlock(&locks)
        }
        while slot.waitingFor.load(ordering: .relaxed) == 0 { OSThread.sleep(nanoseconds: 100_000) }
        PThread.unlock(m)
        t.join()
        #expect(contended)
        #expect(counters.acquisitions == 1 && counters.contended == 1)
    }

    @Test(.oneThread) func anOutOfOrderAcquisitionIsRecorded() {
        let a = makeMutex(), b = makeMutex()
        defer { freeMutex(a); freeMutex(b) }
        var locks = LockTracker(enabled: true, threadName: "t")
        var counters = LockCounters()
        let high = RankedLock(PThreadMutexRef(a), rank: .bucket(5))
        let low = RankedLock(PThreadMutexRef(b), rank: .bucket(1))
        high.lock(&locks, counting: &counters)
        low.lock(&locks, counting: &counters)
        low.unlock(&locks)
        high.unlock(&locks)
        #expect(locks.violations.count == 1)
        #expect(locks.violations.first?.acquiring == .bucket(1) && locks.violations.first?.held == .bucket(5))
        #expect(counters.acquisitions == 2)
    }

    @Test(.oneThread) func theEntrySpinLockIsARankedLock() {
        let pool = EntryPool(hugePages: false)
        var c = WorkerContext(name: "t", checkLockOrder: true)
        let e = pool.entry(pool.take(1, &c))
        let lock = e.rankedLock
        #expect(!lock.lock(&c.locks, counting: &c.stats.connLock))
        #expect(!lock.primitive.tryLock())
        lock.unlock(&c.locks)
        #expect(lock.primitive.tryLock())
        lock.primitive.unlock()
        #expect(c.stats.connLock.acquisitions == 1 && c.locks.heldRanks.isEmpty)
    }

    #if DEBUG
    /// Debug builds make mutexes error-checking: unlocking one this thread
    /// does not hold fails instead of corrupting it.
    @Test(.oneThread) func debugMutexesCheckTheirOwner() {
        let m = makeMutex()
        defer { freeMutex(m) }
        #expect(pthread_mutex_unlock(m) == EPERM)
        PThread.lock(m)
        #expect(pthread_mutex_lock(m) == EDEADLK)
        PThread.unlock(m)
    }
    #endif
}
