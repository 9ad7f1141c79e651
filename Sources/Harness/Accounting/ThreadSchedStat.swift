/// What the scheduler says of the calling thread
/// (`/proc/thread-self/schedstat`): time on a CPU, and time runnable but
/// waiting in a run queue for one. The second is the direct measure of a
/// machine too busy for the run: a thread that parks is not runnable, so
/// waits at barriers do not count, only a CPU the thread wanted and did
/// not get.
struct ThreadSchedStat: Sendable, Equatable {
    var onCPUNanos: Int64
    var runQueueNanos: Int64

    /// nil where the kernel does not keep it (no CONFIG_SCHED_INFO, not Linux).
    static func now() -> ThreadSchedStat? {
        guard let text = readProcFile("/proc/thread-self/schedstat") else { return nil }
        let f = text.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 2, let cpu = Int64(f[0]), let queued = Int64(f[1]) else { return nil }
        return ThreadSchedStat(onCPUNanos: cpu, runQueueNanos: queued)
    }

    static func - (a: ThreadSchedStat, b: ThreadSchedStat) -> ThreadSchedStat {
        ThreadSchedStat(onCPUNanos: a.onCPUNanos - b.onCPUNanos, runQueueNanos: a.runQueueNanos - b.runQueueNanos)
    }
}
