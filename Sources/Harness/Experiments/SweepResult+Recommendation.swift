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
        let flagged = points.filter { !$0.flags.isEmpty }
        if !flagged.isEmpty {
            text += "excluded (flagged): " + flagged.map { "\($0.label) [\($0.flags.joined(separator: ", "))]" }.joined(separator: "; ") + "\n"
        }
        let maxT = sweep.threads.max()!
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
        let design = designAxes.map { lean.settings[$0] }
        if !design.isEmpty {
            text += "recommended design settings: " + design.map { "--\($0.name) \($0.value)" }.joined(separator: " ")
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
            text += "recommended reaper settings: " + policyAxes.map { "--\(f.settings[$0].name) \(f.settings[$0].value)" }.joined(separator: " ")
                + " (live within 10 % of ideal: \(r.live) live, \(r.expiredStillLinkedAtEnd) expired kept; reaper busy \(Metric.reaperBusySeconds.format(cpu(f))), the lowest such)\n"
        } else {
            text += "no reaper setting kept live connections within 10 % of ideal at those design settings; try more frequent passes\n"
        }
        return text
    }
}
