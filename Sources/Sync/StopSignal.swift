#if canImport(Glibc)
import Glibc
#endif
import struct Synchronization.Atomic

/// SIGINT and SIGTERM ask a run to stop at its next batch boundary; a second
/// signal exits at once (128 + signal). The handler only touches an atomic
/// and, the second time, calls `_exit`: both are async-signal-safe.
public enum StopSignal {
    /// The signal that asked to stop (0: none).
    static let received = Atomic<Int32>(0)

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = { sig in
                let (first, _) = StopSignal.received.compareExchange(expected: 0, desired: sig, ordering: .relaxed)
                if !first { _exit(128 + sig) }
            }
            sigemptyset(&sa.sa_mask)
            let rc = sigaction(sig, &sa, nil)
            precondition(rc == 0, "sigaction failed")
        }
    }

    /// The signal that asked to stop, if any.
    @inline(__always)
    public static var requested: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// For tests: as if `sig` had arrived (0 clears it).
    public static func _simulate(_ sig: Int32) { received.store(sig, ordering: .relaxed) }

    /// The name of a stop signal.
    public static func name(_ sig: Int32) -> String { sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)" }
}
