import ConnTrack

/// The human-readable report.
public enum ReportFormatter {
    static func num(_ v: UInt64) -> String {
        let s = String(v)
        var out = ""
        for (i, c) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(c) }
        return String(out.reversed())
    }
    static func num(_ v: Int64) -> String { v < 0 ? "-" + num(UInt64(-v)) : num(UInt64(v)) }
    static func num(_ v: Int) -> String { num(Int64(v)) }
    static func f(_ v: Double, _ digits: Int = 2) -> String {
        if v.isNaN || v.isInfinite { return "-" }
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (v * p).rounded() / p
        var s = String(r)
        if let dot = s.firstIndex(of: ".") {
            let dec = s.distance(from: dot, to: s.endIndex) - 1
            if dec < digits { s += String(repeating: "0", count: digits - dec) }
        } else if digits > 0 { s += "." + String(repeating: "0", count: digits) }
        return s
    }
    static func mb(_ b: Int) -> String { f(Double(b) / 1_048_576, 1) + " MiB" }
    static func pct(_ a: UInt64, _ b: UInt64) -> String { b == 0 ? "-" : f(Double(a) * 100 / Double(b)) + "%" }
    static func row(_ k: String, _ v: String) -> String {
        "  " + k + String(repeating: " ", count: max(1, 30 - k.count)) + v + "\n"
    }

    public static func text(_ r: RunReport) -> String {
        var o = ""
        let design = r.variant == r.design ? r.design : "\(r.design)/\(r.variant)"
        let slots = r.slotName.map { ", \(num(r.buckets)) \($0)s" } ?? ""
        o += "conntrack-bench: \(design), scenario \(r.scenario)\(slots), \(r.threads) worker(s), clock \(r.clock)\(r.deterministic ? " (deterministic)" : ""), reaper \(r.policy)\(r.faults.isEmpty ? "" : ", faults: " + r.faults.joined(separator: ","))\n"
        o += "  " + (r.hashSeed.map { "hash seed 0x\(String($0, radix: 16)), " } ?? "") + "flow seed \(r.flowSeed)\n\n"
        o += "Throughput (table work only; generation timed separately)\n"
        o += row("packets", num(r.packets))
        o += row("packets/s", num(UInt64(r.packetsPerSecond)) + "  (" + f(r.tableSeconds, 3) + " s in the table)")
        o += row("per worker pkt/s", r.perWorkerPacketsPerSecond.map { num(UInt64($0)) }.joined(separator: ", "))
        o += row("generation", f(r.generationSeconds, 3) + " s   wall " + f(r.wallSeconds, 3) + " s   virtual " + f(r.virtualSeconds, 1) + " s")
        o += row("latency (1/\(r.latencySampleEvery) sampled)", "p50 \(Int(r.latencyNanos.p50)) ns  p99 \(Int(r.latencyNanos.p99)) ns  max \(Int(r.latencyNanos.max)) ns")
        o += "\nTable (conntrack -S names)\n"
        o += row("lookups", num(r.lookups) + "  found " + num(r.found) + " (" + pct(r.found, r.lookups) + ")  not found " + num(r.notFound))
        o += row("insert", num(r.insert) + "  clash " + num(r.insertClash) + "  insert_failed " + num(r.insertFailed))
        o += row("drop / early_drop", num(r.drop) + " / " + num(r.earlyDrop) + "   search_restart " + num(r.searchRestart))
        o += row("connections", "created " + num(r.created) + "  live " + num(r.live) + "  peak " + num(r.livePeak))
        o += row("removed", "inline " + num(r.removedInline) + "  reaper " + num(r.removedByReaper) + "  early-drop " + num(r.removedOther))
        o += row("deferred by lock order", num(r.deferredByLockOrder))
        o += row("tuples at end", num(r.tuplesAtEnd) + "  (expired but still linked: " + num(r.expiredStillLinkedAtEnd) + ")")
        o += row("tracker", "init " + num(r.trackerInit) + "  " + TrackerResult.allCases.map { "\($0) \(num(r.trackerResults["\($0)"] ?? 0))" }.joined(separator: "  "))
        o += "\nLists\n"
        o += row("chain walked per lookup", "p50 \(Int(r.chainWalked.p50))  p99 \(Int(r.chainWalked.p99))  max \(Int(r.chainWalked.max))  mean " + f(r.chainWalked.mean))
        o += row("bucket occupancy at end", "p50 \(Int(r.occupancyAtEnd.p50))  p99 \(Int(r.occupancyAtEnd.p99))  max \(Int(r.occupancyAtEnd.max))  mean " + f(r.occupancyAtEnd.mean) + "  empty " + num(r.emptyBucketsAtEnd))
        o += "\nContention (trylock failed first)\n"
        for (name, l) in [("bucket locks", r.bucketLocks), ("connection locks", r.connectionLocks), ("table lock", r.tableLock)] {
            o += row(name, num(l.acquisitions) + " acquired, " + num(l.contended) + " contended (" + pct(l.contended, l.acquisitions) + "), waited " + f(l.waitMillis, 3) + " ms")
        }
        o += row("hottest buckets", r.hottestBuckets.isEmpty ? "none contended" : r.hottestBuckets.map { "#\($0[0]): \($0[1])" }.joined(separator: "  "))
        o += "\nReaper\n"
        let ratio = r.reaperChecked > 0 ? f(Double(r.reaperExpired) * 100 / Double(r.reaperChecked)) + "%" : "-"
        o += row("passes", num(r.reaperPasses) + "  checked " + num(r.reaperChecked) + "  expired " + num(r.reaperExpired) + " (" + ratio + ")")
        let iv = r.reaperIntervalsMillis
        if !iv.isEmpty {
            let head = iv.prefix(8).map { f($0, 2) }.joined(separator: ", ")
            o += row("intervals (ms)", head + (iv.count > 8 ? ", … last " + f(iv.last!, 2) + ", min " + f(iv.min()!, 2) + ", max " + f(iv.max()!, 2) : ""))
        }
        o += row("pause per pass (µs)", "p50 " + f(r.reaperPauseMicros.p50, 1) + "  p99 " + f(r.reaperPauseMicros.p99, 1) + "  max " + f(r.reaperPauseMicros.max, 1))
        o += "\nMemory (\(r.allocator.allocator))\n"
        o += row("allocated / active / resident", mb(r.allocator.allocatedBytes) + " / " + mb(r.allocator.activeBytes) + " / " + mb(r.allocator.residentBytes))
        o += row("per live connection", f(r.allocator.bytesPerLiveConnection, 0) + " B (whole heap incl. generator buffers)   fragmentation " + f(r.allocator.fragmentation * 100) + "%")
        o += "\nChecks\n"
        o += row("invariants", r.invariants.summary)
        o += row("full sweep at end", num(r.expiredSurvivingFullSweep) + " expired connections survived" + (r.variant == "seed2020" && r.design == "buckets" ? " (the 2020 walk stops at its first reap)" : ""))
        o += row("lock order", r.lockOrderViolations.isEmpty ? "no violation" : r.lockOrderViolations.joined(separator: "\n    "))
        return o
    }
}
