import ConnTrack

extension SweepResult {
    /// The recommendation, at the largest worker count, from unflagged
    /// points only (a starved run or a reaper that fell behind does not
    /// show what its setting does):
    /// 1. the design's settings: of the points within 5 % of the best
    ///    throughput, those with the least table memory;
    /// 2. the policy's settings there: live connections within 10 % of the
    ///    ideal (live without the expired ones kept), at the least reaper CPU.
    public var recommendation: String {
        let b = sweep.base
        var text = "sweep: \(points.count) points of \(what); axes "
            + sweep.axes.map(\.description).joined(separator: " ") + ", workers \(sweep.threads.map(String.init).joined(separator: ","))"
            + (b.table.hashSeed.map { ", hash seed \($0) (--hash-seed)" } ?? "") + "\n"
        let maxT = sweep.threads.max()!
        if case .workload(let w, _) = b.source {
            // A workload's point is chosen by its recovery (virtual time)
            // and its reaper's CPU time, which fewer CPUs than workers do
            // not distort; only a reaper that fell behind excludes it.
            let excludes = { (p: SweepPoint) in p.flags.contains { !Self.cpuAvailabilityFlags.contains($0) } }
            let excluded = points.filter(excludes)
            let kept = points.filter { !$0.flags.isEmpty && !excludes($0) }
            if !excluded.isEmpty {
                text += "excluded (flagged): " + excluded.map { "\($0.label) [\($0.flags.joined(separator: ", "))]" }.joined(separator: "; ") + "\n"
            }
            if !kept.isEmpty {
                text += "kept though flagged (recovery is virtual time, reaper CPU is CPU time: neither depends on the CPUs the run got): "
                    + kept.map { "\($0.label) [\($0.flags.joined(separator: ", "))]" }.joined(separator: "; ") + "\n"
            }
            let ok = points.filter { $0.threads == maxT && !excludes($0) }
            return text + workloadRecommendation(ok, workers: maxT, virtualSeconds: Double(w.duration) / 1e9)
        }
        let flagged = points.filter { !$0.flags.isEmpty }
        if !flagged.isEmpty {
            text += "excluded (flagged): " + flagged.map { "\($0.label) [\($0.flags.joined(separator: ", "))]" }.joined(separator: "; ") + "\n"
        }
        let ok = points.filter { $0.threads == maxT && $0.flags.isEmpty }
        guard let best = ok.max(by: { ($0.median(.packetsPerSecond) ?? 0) < ($1.median(.packetsPerSecond) ?? 0) }),
              let bestPPS = best.median(.packetsPerSecond) else {
            return text + "no unflagged point at \(maxT) worker(s): no recommendation (rerun on a quieter machine)\n"
        }
        text += "best throughput: \(Metric.packetsPerSecond.format(bestPPS)) packets/s at \(best.label)\n"
        let designAxes = sweep.axes.indices.filter { sweep.axes[$0].isDesign }
        let near = ok.filter { ($0.median(.packetsPerSecond) ?? 0) >= 0.95 * bestPPS }
        let heap = { (p: SweepPoint) in p.median(.tableHeapBytes) ?? .infinity }
        let lean = near.min { heap($0) < heap($1) }!
        if !designAxes.isEmpty {
            text += "recommended design settings: " + designAxes.map { sweep.axes[$0].arguments(lean.settings[$0].value) }.joined(separator: " ")
                + " (least table memory within 5 % of the best: \(Metric.tableHeapBytes.format(heap(lean))), \(Metric.packetsPerSecond.format(lean.median(.packetsPerSecond)!)) packets/s)\n"
        }
        let policyAxes = sweep.axes.indices.filter { !sweep.axes[$0].isDesign }
        guard !policyAxes.isEmpty else { return text }
        let same = ok.filter { p in designAxes.allSatisfy { p.settings[$0].value == lean.settings[$0].value } }
        let good = same.filter { p in
            let live = p.repeats.medianRun.live, kept = Int64(p.repeats.medianRun.expiredStillLinkedAtEnd)
            let ideal = Double(live - kept)
            return ideal <= 0 || Double(live) <= 1.10 * ideal
        }
        let cpu = { (p: SweepPoint) in p.median(.reaperBusySeconds) ?? .infinity }
        if let f = good.min(by: { cpu($0) < cpu($1) }) {
            let r = f.repeats.medianRun
            text += "recommended reaper settings: " + policyAxes.map { sweep.axes[$0].arguments(f.settings[$0].value) }.joined(separator: " ")
                + " (live within 10 % of ideal: \(r.live) live, \(r.expiredStillLinkedAtEnd) expired kept; reaper busy \(Metric.reaperBusySeconds.format(cpu(f))), the lowest such)\n"
        } else {
            text += "no reaper setting kept live connections within 10 % of ideal at those design settings; try more frequent passes\n"
        }
        return text
    }

    /// The flags that say a run got fewer CPUs than it needed (the first
    /// word or words of each warning): they distort wall-clock figures
    /// only.
    static let cpuAvailabilityFlags: Set<String> = ["busy machine", "oversubscribed", "waited on descheduled parties", "starved"]

    /// A workload's recommendation: of the points not excluded at the largest
    /// worker count whose reaper used at most the budget (a share of one
    /// CPU at the workload's real-time pace), the one with the shortest
    /// worst recovery; ties go to the least reaper CPU.
    func workloadRecommendation(_ ok: [SweepPoint], workers: Int, virtualSeconds: Double) -> String {
        let budget = sweep.reaperCPUBudget
        let share = { (p: SweepPoint) in (p.median(.reaperCPUSeconds) ?? .infinity) / max(1e-9, virtualSeconds) }
        let recovery = { (p: SweepPoint) in p.median(.worstRecovery) ?? .infinity }
        let pct = { (v: Double) in ReportFormatter.f(v * 100, 2) + " %" }
        let within = ok.filter { share($0) <= budget }
        let order = { (a: SweepPoint, b: SweepPoint) in (recovery(a), share(a)) < (recovery(b), share(b)) }
        var text = "reaper CPU budget: \(pct(budget)) of one CPU at the workload's real-time pace (reaper CPU over \(ReportFormatter.seconds(virtualSeconds)) virtual s; --reaper-cpu-budget)\n"
        guard let best = within.min(by: order) else {
            if let fastest = ok.min(by: order) {
                return text + "no point at \(workers) worker(s) kept its reaper within the budget; the fastest to recover was \(fastest.label): worst recovery \(Metric.worstRecovery.format(recovery(fastest))), reaper \(pct(share(fastest)))\n"
            }
            return text + "no point at \(workers) worker(s) whose reaper kept up: no recommendation (try more frequent passes)\n"
        }
        let settings = best.settings.indices.map { sweep.axes[$0].arguments(best.settings[$0].value) }.joined(separator: " ")
        text += "recommended: \(settings): the shortest worst recovery within the budget, \(Metric.worstRecovery.format(recovery(best)))"
            + " (garbage back at or under \(Int(WorkloadReport.cleanShare * 100)) % of live after every phase change), reaper \(pct(share(best)))"
            + ", peak garbage \(Metric.garbagePeak.text(best.repeats.medianRun))\n"
        if recovery(best).isInfinite {
            text += "no point within the budget recovered after every change: the recommendation is the least bad; try a larger budget, more buckets or a smaller --fraction\n"
        }
        let over = ok.filter { share($0) > budget && recovery($0) < recovery(best) }
        if let faster = over.min(by: order) {
            text += "faster, over the budget: \(faster.label): \(Metric.worstRecovery.format(recovery(faster))) at reaper \(pct(share(faster)))\n"
        }
        return text
    }
}
