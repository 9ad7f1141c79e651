extension ReportFormatter {
    /// The text report's section for operations run on the live table (`--op`).
    static func operationsText(_ ops: OperationsReport) -> String {
        var o = "\nOperations on the running table (each on its own thread; the workers did not pause)\n"
        for r in ops.operations {
            var what = "at \(f(r.startedAtSeconds, 3)) s: " + f(r.durationMillis, 3) + " ms"
            if let c = r.counts {
                what += (r.kind == "resize" ? ", rehashed \(num(c.visited)) entries" : ", visited \(num(c.visited))")
                    + (c.slotsBefore.map { b in c.slotsAfter.map { ", \(num(b)) -> \(num($0)) slots" } ?? "" } ?? "")
                    + (r.kind == "dump" ? ", listed \(num(c.listed))" : "")
                    + (r.kind == "flush" || r.kind == "delete" ? ", removed \(num(c.removed))" : "")
                    + (c.retries > 0 ? " (walks repeated \(num(c.retries)))" : "")
            }
            if let b = r.bytes { what += ", \(mb(b)) of conntrack -L lines" + (r.formatMillis.map { " formatted after it in " + f($0, 1) + " ms" } ?? "") }
            if let s = r.stats {
                what += ": " + ["found", "insert", "insert_failed", "drop", "early_drop", "invalid"].map { "\($0)=\(s[$0] ?? 0)" }.joined(separator: " ")
            }
            o += row(r.spec, what)
            var cost = "packets during \(num(r.packetsDuring)) (" + f(r.packetsPerSecondDuring / 1e6, 3) + " M/s"
                + (r.packetsPerSecondBefore.map { "; the " + f(r.beforeSeconds ?? 1, 2) + " s before " + f($0 / 1e6, 3) + " M/s" } ?? "") + ")"
            if let d = r.latencyDuring {
                cost += "; latency during p50/p99/p99.9/max " + [d.p50, d.p99, d.p999, d.max].map { f($0, 0) }.joined(separator: "/") + " ns"
                if let b = r.latencyBefore {
                    cost += ", before " + [b.p50, b.p99, b.p999, b.max].map { f($0, 0) }.joined(separator: "/")
                }
            }
            cost += "; workers waited for locks " + f(r.workerLockWaitMillis, 3) + " ms (during it and 60 ms after)"
            o += row("", cost)
        }
        if !ops.notRun.isEmpty {
            o += row("not run", ops.notRun.joined(separator: ", ") + " (the packets ran out first)")
        }
        return o
    }
}
