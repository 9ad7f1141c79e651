import Testing
@testable import Harness
import TestSupport

/// The flags of a busy machine are a function of what the scheduler and
/// /proc/stat said: checked here on figures like those measured quiet and
/// beside one CPU-bound process (results/busy-machine.md).
@Suite(.oneThread) struct LoadFlagTests {
    /// A two-worker CPU report with each worker's time on a CPU, queued
    /// for one, and waiting at barriers.
    func report(onCPU: Double, queued: Double, waited: Double, process: Double, wall: Double) -> CPUReport {
        let w = CPUReport.Worker(packets: 100_000, busySeconds: onCPU, cpuSeconds: onCPU, lockWaitSeconds: 0,
                                 packetsPerBusySecond: 1, cpuShareWhileBusy: 1, waits: 1000, parkedWaits: 100,
                                 waitSpinSeconds: waited / 10, waitParkedSeconds: waited * 9 / 10,
                                 onCPUSeconds: onCPU, runQueueSeconds: queued)
        return CPUReport(workers: [w, w], reaperCPUSeconds: 0, processCPUSeconds: process, phaseWallSeconds: wall,
                         cpusUtilized: process / wall, voluntaryContextSwitches: 0, involuntaryContextSwitches: 0,
                         starved: false, starvedBelow: 0.8)
    }

    /// `busyCPUs` (this process included) and `stealCPUs` over `seconds`.
    func machine(busyCPUs: Double, stealCPUs: Double = 0, seconds: Double) -> MachineCPU {
        let t = MachineCPU.ticksPerSecond
        return MachineCPU(busyTicks: Int64((busyCPUs * seconds * t).rounded()), idleTicks: 0,
                          stealTicks: Int64((stealCPUs * seconds * t).rounded()))
    }

    @Test func aQuietRunIsNotFlagged() {
        var r = report(onCPU: 0.58, queued: 0.0005, waited: 0.1, process: 1.09, wall: 0.59)
        ReportBuilder.judgeLoad(&r, machine: machine(busyCPUs: 1.87, seconds: 0.59))
        #expect(r.flags == [])
        #expect((r.workerRunQueueShare ?? 1) < 0.01)
        #expect((r.otherProcessesCPUs ?? 1) < 0.1)
    }

    @Test func besideACPUBoundProcessTheRunIsFlagged() {
        var r = report(onCPU: 0.36, queued: 0.20, waited: 0.3, process: 0.67, wall: 0.67)
        ReportBuilder.judgeLoad(&r, machine: machine(busyCPUs: 1.95, seconds: 0.67))
        let kinds = (r.flags ?? []).map(\.kind)
        #expect(kinds == ["busy-machine", "waited-on-descheduled"])
        #expect(r.flags?.first?.reason.contains("other processes took") == true, "\(r.flags ?? [])")
        #expect(abs((r.otherProcessesCPUs ?? 0) - 0.95) < 0.02)
    }

    /// Queued as much, but nothing else ran: the run's own threads.
    @Test func ownThreadsAreNamedWhenNothingElseRan() {
        var r = report(onCPU: 0.36, queued: 0.20, waited: 0, process: 1.3, wall: 0.67)
        ReportBuilder.judgeLoad(&r, machine: machine(busyCPUs: 1.32, seconds: 0.67))
        #expect((r.flags ?? []).map(\.kind) == ["oversubscribed"])
    }

    /// Steal alone is the hypervisor's busy machine.
    @Test func stealCountsAsAnotherProcess() {
        var r = report(onCPU: 0.36, queued: 0.20, waited: 0, process: 1.3, wall: 0.67)
        ReportBuilder.judgeLoad(&r, machine: machine(busyCPUs: 1.32, stealCPUs: 0.5, seconds: 0.67))
        #expect((r.flags ?? []).map(\.kind) == ["busy-machine"])
    }

    /// Without schedstat (another kernel) nothing is judged.
    @Test func withoutTheSchedulersFiguresNothingIsFlagged() {
        var r = report(onCPU: 0.36, queued: 0.20, waited: 0.3, process: 0.67, wall: 0.67)
        r.workers = r.workers.map { var w = $0; w.runQueueSeconds = nil; w.onCPUSeconds = nil; return w }
        ReportBuilder.judgeLoad(&r, machine: machine(busyCPUs: 1.95, seconds: 0.67))
        #expect(r.flags == [] && r.workerRunQueueShare == nil)
    }
}
