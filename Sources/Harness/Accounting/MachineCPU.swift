#if canImport(Glibc)
import Glibc
#endif

/// The whole machine's CPU time so far, from the first line of
/// `/proc/stat`, in clock ticks: busy (user, nice, system, irq, softirq;
/// guest time is inside user), idle (with iowait) and steal (time the
/// hypervisor gave the vCPUs to someone else). With the process's own CPU
/// time over the same interval it says what other processes took.
struct MachineCPU: Sendable, Equatable {
    var busyTicks: Int64
    var idleTicks: Int64
    var stealTicks: Int64

    static let ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))

    /// nil where /proc/stat is not there or not in the expected form.
    static func now() -> MachineCPU? {
        guard let text = readProcFile("/proc/stat", limit: 1024),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let v = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().compactMap { Int64($0) }
        // user nice system idle iowait irq softirq steal [guest guest_nice]
        guard v.count >= 8 else { return nil }
        return MachineCPU(busyTicks: v[0] + v[1] + v[2] + v[5] + v[6], idleTicks: v[3] + v[4], stealTicks: v[7])
    }

    static func - (a: MachineCPU, b: MachineCPU) -> MachineCPU {
        MachineCPU(busyTicks: a.busyTicks - b.busyTicks, idleTicks: a.idleTicks - b.idleTicks,
                   stealTicks: a.stealTicks - b.stealTicks)
    }
}
