extension ReportFormatter {
    /// The text report's section for a paced run (`--rate`).
    static func pacedText(_ p: PacedReport) -> String {
        var o = "\nPaced arrivals (offered \(num(p.offeredRate)) packets/s"
            + (p.perWorkerDropped.count > 1 ? ", \(num(p.perWorkerRate)) per worker" : "")
            + "; ring of \(num(p.ring)) descriptors per worker)\n"
        let dropShare = p.arrived > 0 ? f(Double(p.dropped) * 100 / Double(p.arrived), 3) + " %" : "-"
        o += row("arrived / dropped", num(p.arrived) + " / " + num(p.dropped) + " (" + dropShare + ")"
                 + (p.perWorkerDropped.count > 1 ? "  per worker " + p.perWorkerDropped.map { num($0) }.joined(separator: ", ") : ""))
        o += row("ring high-water", num(p.highWater) + " of " + num(p.ring)
                 + (p.perWorkerHighWater.count > 1 ? "  per worker " + p.perWorkerHighWater.map { num($0) }.joined(separator: ", ") : ""))
        let q = p.queueingNanos
        o += row("queueing delay (µs)", "p50 " + f(q.p50 / 1e3, 1) + "  p99 " + f(q.p99 / 1e3, 1) + "  max " + f(q.max / 1e3, 1)
                 + "  (arrival to the worker taking it, over \(num(q.count)) packets)")
        o += row("served", f(p.servedRate / 1e6, 3) + " M packets/s over " + f(p.seconds, 3) + " s (time spent generating packets excluded)")
        if let l = p.longestPause {
            o += row("longest pause", f(Double(l.nanos) / 1e6, 3) + " ms (\(l.kind), worker \(l.worker), at " + f(l.atSeconds, 3) + " s): " + l.cause)
        }
        if let c = p.boundaryCostNanos {
            o += row("boundary readings", f(c, 0) + " ns per batch (two clock reads and two thread CPU-time reads, paid in every figure above)")
        }
        return o
    }
}
