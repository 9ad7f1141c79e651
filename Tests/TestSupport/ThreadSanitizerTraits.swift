#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The tests were built with ThreadSanitizer (`swift test --sanitize=thread`,
/// CI's second step).
public let builtWithThreadSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

extension Trait where Self == ConditionTrait {
    /// A test or suite that runs on one thread only: nothing for
    /// ThreadSanitizer to race, so the sanitized run skips it. (A run with
    /// a generator thread that fills the worker's buffer ahead counts as
    /// one thread: that hand-over is raced by the tests that exist for it.)
    public static var oneThread: Self {
        .disabled(if: builtWithThreadSanitizer, "one thread: nothing for ThreadSanitizer to race")
    }

    /// A test whose threads other tests already race under
    /// ThreadSanitizer, too slow there to run as well; `why` names them.
    public static func racedElsewhere(_ why: Comment) -> Self {
        .disabled(if: builtWithThreadSanitizer, why)
    }
}
