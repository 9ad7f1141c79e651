#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reusable barrier on a pthread mutex and condition variable (visible
/// to ThreadSanitizer, unlike a spin on atomics).
public final class Barrier: @unchecked Sendable {
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let parties: Int
    /// protected by m
    var waiting = 0
    /// protected by m
    var generation = 0

    public init(parties: Int) {
        precondition(parties >= 1, "a barrier needs at least one party")
        self.parties = parties
        m.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        PThread.initMutex(m)
        let rc = pthread_cond_init(cv, nil)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
    }

    deinit {
        let rc = pthread_cond_destroy(cv)
        precondition(rc == 0, "pthread_cond_destroy failed: \(rc)")
        PThread.destroyMutex(m)
        cv.deallocate(); m.deallocate()
    }

    /// Blocks until `parties` threads have called it; the last one runs
    /// `action` alone (the others still wait) before all are released, so
    /// what it writes is visible to every party afterwards. Returns true
    /// for the last.
    @discardableResult
    public func wait(_ action: () -> Void) -> Bool {
        PThread.lock(m)
        let gen = generation
        waiting += 1
        if waiting == parties {
            PThread.unlock(m)
            action()
            PThread.lock(m)
            waiting = 0
            generation += 1
            let rc = pthread_cond_broadcast(cv)
            precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
            PThread.unlock(m)
            return true
        }
        while gen == generation {
            let rc = pthread_cond_wait(cv, m)
            precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
        }
        PThread.unlock(m)
        return false
    }

    /// Blocks until `parties` threads have called it; returns true for the last.
    @discardableResult
    public func wait() -> Bool {
        PThread.lock(m)
        defer { PThread.unlock(m) }
        let gen = generation
        waiting += 1
        if waiting == parties {
            waiting = 0
            generation += 1
            let rc = pthread_cond_broadcast(cv)
            precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
            return true
        }
        while gen == generation {
            let rc = pthread_cond_wait(cv, m)
            precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
        }
        return false
    }
}
