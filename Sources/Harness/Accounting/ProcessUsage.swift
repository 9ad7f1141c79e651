#if canImport(Glibc)
import Glibc
#endif
import Sync

/// A snapshot of the process's resource usage (`getrusage(RUSAGE_SELF)`)
/// and the monotonic clock, taken at the start and end of the table phase.
struct ProcessUsage {
    var wallNanos: Int64
    /// User + system CPU time of every thread of the process.
    var cpuNanos: Int64
    var voluntarySwitches: Int
    var involuntarySwitches: Int
    /// Peak resident set size so far, bytes.
    var peakRSSBytes: Int
    /// The whole machine's CPU time (nil: not known here).
    var machine: MachineCPU?

    static func now() -> ProcessUsage {
        var ru = rusage()
        let rc = getrusage(RUSAGE_SELF.rawValue, &ru)
        precondition(rc == 0, "getrusage failed")
        func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
        return ProcessUsage(wallNanos: monotonicNanos(), cpuNanos: ns(ru.ru_utime) + ns(ru.ru_stime),
                            voluntarySwitches: ru.ru_nvcsw, involuntarySwitches: ru.ru_nivcsw,
                            peakRSSBytes: ru.ru_maxrss * 1024, machine: MachineCPU.now())
    }
}
