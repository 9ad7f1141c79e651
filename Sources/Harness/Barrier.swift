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
        self.parties = parties
        pthread_mutex_init(m, nil)
        pthread_cond_init(cv, nil)
    }

    deinit {
        pthread_cond_destroy(cv); pthread_mutex_destroy(m)
        cv.deallocate(); m.deallocate()
    }

    /// Blocks until `parties` threads have called it; returns true for the last.
    @discardableResult
    public func wait() -> Bool {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        let gen = generation
        waiting += 1
        if waiting == parties {
            waiting = 0
            generation += 1
            pthread_cond_broadcast(cv)
            return true
        }
        while gen == generation { pthread_cond_wait(cv, m) }
        return false
    }
}
