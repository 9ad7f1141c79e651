extension ReportFormatter {
    /// A workload run's section: each phase's figures, then how the table
    /// recovered from each change.
    static func workloadText(_ w: WorkloadReport) -> String {
        var o = "\nWorkload \(w.name) (samples every \(f(w.sampleSeconds, 3)) virtual s; taking them took \(f(w.monitorSeconds, 3)) s, not counted as table time)\n"
        if !w.summary.isEmpty { o += "  " + w.summary + "\n" }
        if w.garbageSampledShare < 1 {
            o += "  garbage counted on 1/\(Int((1 / w.garbageSampledShare).rounded())) of the table (every so many buckets or pool entries, a different part each sample) and scaled up while it held over \(num(w.garbageExactUpTo)) connections\n"
        }
        for (i, p) in w.phases.enumerated() {
            o += "  \(p.name) (\(seconds(p.startSeconds))–\(seconds(p.endSeconds)) s)\n"
            o += row("    packets", num(p.packets) + "  at " + num(UInt64(p.packetsPerSecond)) + " pkt/s of table time;  set-ups " + num(UInt64(p.setupsPerSecond.rounded())) + "/s, teardowns " + num(UInt64(p.teardownsPerSecond.rounded())) + "/s (virtual)")
            o += row("    latency", "p99 \(Int(p.latencyP99Nanos)) ns  p99.9 \(Int(p.latencyP999Nanos)) ns")
            o += row("    connections", "live " + num(p.liveAtEnd) + " at the end, peak " + num(p.livePeak) + ";  garbage peak " + num(p.garbagePeak))
            o += row("    failures", "insert_failed " + num(p.insertFailed) + "  drop " + num(p.drop) + "  early_drop " + num(p.earlyDrop))
            o += row("    reaper", num(p.reaperPasses) + " passes, mean interval " + f(p.reaperIntervalSeconds, 3) + " s, cpu " + f(p.reaperCPUSeconds, 3) + " s")
            let recovery: String
            switch p.recoverySeconds {
            case .none: recovery = "NOT RECOVERED: garbage still over \(Int(WorkloadReport.cleanShare * 100)) % of live at the phase's end"
            case .some(0): recovery = "garbage stayed at or under \(Int(WorkloadReport.cleanShare * 100)) % of live"
            case .some(let s): recovery = f(s, 1) + " virtual s until garbage was back at or under \(Int(WorkloadReport.cleanShare * 100)) % of live (reaper cpu " + f(p.recoveryReaperCPUSeconds, 3) + " s)"
            }
            // The first phase follows no change: its line says where
            // garbage stood, not a recovery.
            o += row(i == 0 ? "    garbage" : "    recovery", i == 0 ? (p.recoverySeconds == nil
                ? "over \(Int(WorkloadReport.cleanShare * 100)) % of live at the phase's end (no change before it to recover from)"
                : "at or under \(Int(WorkloadReport.cleanShare * 100)) % of live at the phase's end") : recovery)
        }
        if w.phases.count > 1 {
            let worst = w.unrecoveredChanges > 0 ? "never (\(w.unrecoveredChanges) of \(w.phases.count - 1) changes ended over \(Int(WorkloadReport.cleanShare * 100)) %)"
                : f(w.worstRecoverySeconds ?? 0, 1) + " s"
            o += row("  after the changes", "worst recovery " + worst
                     + ", garbage peak " + num(w.garbagePeak) + ", RSS peak " + mb(w.rssPeakBytes)
                     + ", reaper cpu catching up " + f(w.catchUpReaperCPUSeconds, 3) + " s")
        }
        return o
    }

    /// Virtual seconds as a phase boundary is written: whole when whole.
    public static func seconds(_ s: Double) -> String {
        s == s.rounded() && abs(s) < 1e15 ? String(Int64(s)) : f(s, 3)
    }
}
