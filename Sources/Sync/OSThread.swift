#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable OS thread without Foundation (the reaper, the sampler and the
/// watchdog).
public final class OSThread: @unchecked Sendable {
    private final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    private let tid: pthread_t

    public init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        tid = t
    }

    public func join() {
        let rc = pthread_join(tid, nil)
        precondition(rc == 0, "pthread_join failed: \(rc)")
    }

    /// Sleeps the calling thread.
    public static func sleep(nanoseconds ns: Int64) {
        guard ns > 0 else { return }
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 { ts = rem }
    }
}
