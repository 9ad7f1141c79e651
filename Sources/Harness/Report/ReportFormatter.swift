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
    public static func f(_ v: Double, _ digits: Int = 2) -> String {
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
    public static func row(_ k: String, _ v: String) -> String {
        "  " + k + String(repeating: " ", count: max(1, 30 - k.count)) + v + "\n"
    }

    /// Display names of tracker results. gVisor's `ResultDrop` is the
    /// tracker's verdict on one segment; it is not conntrack -S `drop`
    /// (an insert refused at the table limit), so it is shown apart.
    public static func trackerLabel(_ r: TrackerResult) -> String {
        r == .drop ? "drop-verdict" : "\(r)"
    }

    /// The key of a tracker result in `RunReport.trackerResults`.
    public static func trackerKey(_ r: TrackerResult) -> String {
        r == .drop ? "dropVerdict" : "\(r)"
    }

    public static func text(_ r: RunReport) -> String {
        var o = ""
        let design = r.variant == r.design ? r.design : "\(r.design)/\(r.variant)"
        let slots = r.slotName == "bucket" ? ", \(num(r.buckets)) buckets" : ""
        let what = switch r.source.kind {
        case "pcap": "replay of \(r.source.file ?? "?")"
        case "workload": "workload \(r.source.workload ?? "?")" + (r.source.timeScale.map { $0 != 1 ? " (time scale \(f($0, 2)))" : "" } ?? "")
        default: "scenario \(r.scenario ?? "?")"
        }
        o += "conntrack-bench: \(design), \(what)\(slots), \(r.threads) worker(s), clock \(r.clock)\(r.deterministic ? " (deterministic)" : ""), reaper \(r.policy)\(r.faults.isEmpty ? "" : ", faults: " + r.faults.joined(separator: ","))\n"
        if let p = r.provenance {
            o += "  build: " + p.summary + "\n"
            o += "  command: " + p.commandText + "\n"
        }
        var seeds: [String] = []
        if let h = r.hashSeed { seeds.append("hash seed 0x\(String(h, radix: 16)) (--hash-seed \(h))") }
        if let f = r.flowSeed { seeds.append("flow seed \(f)") }
        if !seeds.isEmpty { o += "  " + seeds.joined(separator: ", ") + "\n" }
        if r.source.kind == "pcap" {
            let sk = (r.source.skipped ?? [:]).filter { $0.value > 0 }.sorted { $0.key < $1.key }
                .map { "\($0.key) \(num($0.value))" }.joined(separator: ", ")
            o += "  records read \(num(r.source.recordsRead ?? 0)), used \(num(r.source.packetsUsed ?? 0))"
                + (r.source.flows.map { " (flows about \(num($0)), estimated)" } ?? "") + ", skipped: \(sk.isEmpty ? "none" : sk)"
                + ((r.source.outOfOrder ?? 0) > 0 ? ", \(num(r.source.outOfOrder!)) out of timestamp order (replayed in order)" : "") + "\n"
        }
        if let n = r.restoredConnections {
            o += "  restored \(num(n)) connections from a saved table (file read and checked in \(String(format: "%.3f", r.restoreLoadSeconds ?? 0)) s, import \(String(format: "%.3f", r.restoreSeconds ?? 0)) s)\n"
        }
        if let s = r.interrupted { o += "  INTERRUPTED by \(s): the figures cover the \(num(r.packets)) packets processed until then\n" }
        o += "  determinism: \(r.determinism.mode): \(r.determinism.statement)\n"
        for w in r.warnings { o += "  WARNING: \(w)\n" }
        o += "\nThroughput (table work only\(r.source.kind == "pcap" ? "" : "; generation timed separately"))\n"
        o += row(Metric.packets.name, Metric.packets.text(r))
        o += row("packets/s", num(UInt64(r.packetsPerSecond)) + "  (" + f(r.tableSeconds, 3) + " s in the table)")
        o += row("rates (RFC 9693)", [Metric.establishedLookupRate, .setupRate, .teardownRate].map { $0.name + " " + $0.text(r) }.joined(separator: "   "))
        o += row("per worker pkt/s (own busy time)", r.perWorkerPacketsPerSecond.map { num(UInt64($0)) }.joined(separator: ", "))
        let overlapped = r.generationOverlappedSeconds.map { " (waits; generated ahead on its own CPU in " + f($0, 3) + " s)" } ?? ""
        o += row("time", (r.source.kind == "pcap" ? "" : "generation " + f(r.generationSeconds, 3) + " s" + overlapped + "   ") + "wall " + f(r.wallSeconds, 3) + " s   virtual " + f(r.virtualSeconds, 1) + " s")
        o += row("latency (1/\(r.latencySampleEvery) sampled)", "p50 \(Int(r.latencyNanos.p50)) ns  p99 \(Int(r.latencyNanos.p99)) ns  max \(Int(r.latencyNanos.max)) ns")
        o += "\nCPU\n"
        for (i, w) in r.cpu.workers.enumerated() {
            o += row("worker-\(i)", "busy " + f(w.busySeconds, 3) + " s, cpu " + f(w.cpuSeconds, 3) + " s, lock waits " + f(w.lockWaitSeconds, 3) + " s (" + f(w.cpuShareWhileBusy * 100, 0) + " % of a CPU while runnable"
                       + (w.cpuShareWhileBusy < r.cpu.starvedBelow && w.busySeconds < ReportBuilder.starvedJudgedFromBusySeconds
                          ? "; not judged starved: busy under " + String(Int(ReportBuilder.starvedJudgedFromBusySeconds * 1000)) + " ms" : "") + ")")
            if let n = w.waits, n > 0 {
                o += row("", "waited " + f((w.waitSpinSeconds ?? 0) + (w.waitParkedSeconds ?? 0), 3) + " s at barriers and in the reaper team (spinning " + f(w.waitSpinSeconds ?? 0, 3) + " s, parked " + f(w.waitParkedSeconds ?? 0, 3) + " s; " + num(w.parkedWaits ?? 0) + " of " + num(n) + " waits parked, " + num(w.shortSpinWaits ?? 0) + " spun briefly as the worker was being preempted)")
            }
            if let q = w.runQueueSeconds, let c = w.onCPUSeconds {
                o += row("", "scheduler: on a CPU " + f(c, 3) + " s, queued for one " + f(q, 3) + " s")
            }
        }
        let split = (r.cpu.reaperSplitPasses ?? 0) > 0
            ? "; the scans of \(r.cpu.reaperSplitPasses!) passes"
                + ((r.cpu.reaperSplitWalks ?? 0) > 0 ? " and the removals of \(r.cpu.reaperSplitWalks!)" : "")
                + ", " + f(r.cpu.reaperSplitScanSeconds ?? 0, 3) + " s, split across the workers"
                + ((r.cpu.reaperSplitSlotsReached ?? 0) > 0
                   ? ", tallied " + f(Double(r.cpu.reaperSplitSlotsScanned ?? 0) / Double(r.cpu.reaperSplitSlotsReached!), 2)
                     + "× the \(r.slotName ?? "slot")s the passes reached" : "")
            : ""
        o += row("reaper cpu", f(r.cpu.reaperCPUSeconds, 3) + " s" + (Metric.reaperSerialShare.value(r).map { $0 > 0 || split != "" ? "  (serial: " + Metric.reaperSerialShare.format($0) + " of the table time, " + (r.threads > 1 ? "every worker but one waiting" : "the worker waiting") + split + ")" : "" } ?? ""))
        o += row("CPUs utilised", f(r.cpu.cpusUtilized) + "  (process cpu " + f(r.cpu.processCPUSeconds, 3) + " s over " + f(r.cpu.phaseWallSeconds, 3) + " s"
                 + ((r.cpu.waitSpinSeconds ?? 0) > 0 ? "; of it spinning in waits " + f(r.cpu.waitSpinSeconds!, 3) + " s" : "") + ")")
        if let online = r.cpu.onlineCPUs {
            o += row("machine", "\(online) CPUs online; over the table phase other processes took " + (r.cpu.otherProcessesCPUs.map { f($0) } ?? "-") + " CPUs, the hypervisor " + (r.cpu.stealCPUs.map { f($0) } ?? "-")
                     + (r.cpu.workerRunQueueShare.map { "; workers queued for a CPU " + f($0 * 100, 1) + " % of the time they could run" } ?? ""))
        }
        o += row("context switches", num(r.cpu.voluntaryContextSwitches) + " voluntary, " + num(r.cpu.involuntaryContextSwitches) + " involuntary")
        o += "\nTable (conntrack -S names)\n"
        o += row(Metric.lookups.name, Metric.lookups.text(r) + "  found " + Metric.found.text(r) + " (" + (Metric.foundPercent.value(r).map { f($0) + "%" } ?? "-") + ")  not found " + Metric.notFound.text(r))
        o += row(Metric.insert.name, Metric.insert.text(r) + "  clash " + Metric.insertClash.text(r) + "  insert_failed " + Metric.insertFailed.text(r))
        o += row("drop / early_drop", Metric.drop.text(r) + " / " + Metric.earlyDrop.text(r) + "   search_restart " + Metric.searchRestart.text(r)
                 + "   chaintoolong " + Metric.chainTooLong.text(r) + "   invalid " + Metric.invalid.text(r))
        o += row("connections", "created " + Metric.created.text(r) + "  live " + Metric.live.text(r) + "  peak " + Metric.livePeak.text(r))
        o += row("removed connections", "inline " + Metric.removedInline.text(r) + "  reaper " + Metric.removedByReaper.text(r) + "  early-drop " + Metric.removedOther.text(r)
                 + (r.removedByOperation.map { "  by operations " + num($0) } ?? ""))
        o += row(Metric.deferredByLockOrder.name, Metric.deferredByLockOrder.text(r) + " events (an expired tuple passed while its partner's bucket is lower)")
        o += row(Metric.tuplesAtEnd.name, Metric.tuplesAtEnd.text(r) + "  (expired connections still linked: " + Metric.expiredStillLinked.text(r) + ")")
        o += row("tracker (packets)", "init " + Metric.trackerInit.text(r) + "  " + zip(TrackerResult.allCases, Metric.trackerResults).map { "\(trackerLabel($0)) \(num(Int64($1.value(r) ?? 0)))" }.joined(separator: "  "))
        o += "\nLists\n"
        o += row("chain walked per lookup", "p50 \(Int(r.chainWalked.p50))  p99 " + Metric.chainP99.text(r) + "  max " + Metric.chainMax.text(r) + "  mean " + Metric.chainMean.text(r))
        if r.slotName == "bucket" {
            o += row("bucket occupancy at end", "p50 \(Int(r.occupancyAtEnd.p50))  p99 \(Int(r.occupancyAtEnd.p99))  max \(Int(r.occupancyAtEnd.max))  mean " + f(r.occupancyAtEnd.mean) + "  empty " + num(r.emptyBucketsAtEnd))
        }
        o += "\nContention (trylock failed first)\n"
        for (name, l) in [("bucket locks", r.bucketLocks), ("connection locks", r.connectionLocks), ("table lock", r.tableLock)] where l.acquisitions > 0 {
            o += row(name, num(l.acquisitions) + " acquired, " + num(l.contended) + " contended (" + pct(l.contended, l.acquisitions) + "), waited " + f(l.waitMillis, 3) + " ms")
        }
        if Metric.bucketLockAcquisitions.value(r)! + Metric.connectionLockAcquisitions.value(r)! + Metric.tableLockAcquisitions.value(r)! > 0 {
            o += row("all locks", Metric.contendedPercent.text(r) + " % of acquisitions contended, waited " + Metric.lockWaitMillis.text(r))
        }
        if r.slotName == "bucket" {
            o += row("hottest buckets", r.hottestBuckets.isEmpty ? "none contended" : r.hottestBuckets.map { "#\($0[0]): \($0[1])" }.joined(separator: "  "))
        }
        o += "\nReaper\n"
        let ratio = r.reaperChecked > 0 ? f(Double(r.reaperExpired) * 100 / Double(r.reaperChecked)) + "%" : "-"
        o += row("passes", num(r.reaperPasses) + "  tuples checked " + num(r.reaperChecked) + "  expired-tuple events " + num(r.reaperExpired) + " (" + ratio + ")")
        if let h = r.reaperHealth {
            o += row("schedule", "\(num(h.passesRun)) of \(num(h.passesDue)) due passes ran, \(num(h.passesLate)) more than one interval late; lag max " + f(h.maxLagMillis, 3) + " ms, p99 " + f(h.p99LagMillis, 3) + " ms" + (h.flagged ? "  BEHIND" : ""))
            o += row("reaper cpu", f(h.cpuSeconds, 3) + " s")
            if let c = h.passesComputed, c > 0 {
                o += row("idle passes", "\(num(c)) of the passes found nothing expired in a gap without packets and were computed, not walked (\(num(h.summariesBuilt ?? 0)) table summaries built)")
            }
        }
        let iv = r.reaperIntervalsMillis
        if !iv.isEmpty {
            let head = iv.prefix(8).map { f($0, 2) }.joined(separator: ", ")
            o += row("intervals (ms)", head + (iv.count > 8 ? ", … last " + f(iv.last!, 2) + ", min " + f(iv.min()!, 2) + ", max " + f(iv.max()!, 2) : ""))
        }
        o += row("pause per pass (µs)", "p50 " + f(r.reaperPauseMicros.p50, 1) + "  p99 " + f(r.reaperPauseMicros.p99, 1) + "  max " + f(r.reaperPauseMicros.max, 1))
        if let w = r.workload { o += workloadText(w) }
        if let p = r.paced { o += pacedText(p) }
        if let ops = r.operations { o += operationsText(ops) }
        let m = r.memory
        o += "\nMemory (\(m.allocator))\n"
        o += row("peak RSS", mb(m.peakRSSBytes))
        o += row("heap allocated / active / resident", mb(m.allocatedBytes) + " / " + mb(m.activeBytes) + " / " + mb(m.residentBytes) + "   fragmentation " + f(m.fragmentation * 100) + "%")
        o += row("table heap", mb(m.tableHeapBytes) + (m.bytesPerConnection.map { "  (" + f($0, 0) + " B per connection in the table)" } ?? "") + "  (growth since the table was created, with memory it maps itself)")
        if let s = r.soak {
            o += "\nSoak (\(s.seconds.map { f($0, 0) + " s" } ?? "until signalled"), checks every \(f(s.checkEverySeconds, 1)) s)\n"
            o += row("checks", "\(s.checks), \(s.failures.isEmpty ? "no failure" : "FAILED: " + s.failures.joined(separator: "; "))"
                     + (s.warmRSSBytes == nil ? " (warm-up not over: no RSS bound applied)" : ""))
            if let first = s.samples.first, let last = s.samples.last {
                o += row("RSS", "\(mb(first.rssBytes)) at the first check, \(s.warmRSSBytes.map { mb($0) } ?? "-") after warm-up, \(mb(last.rssBytes)) at the last (limit +\(Int(s.rssGrowthLimit * 100)) % after warm-up)")
                o += row("connections / backlog", "\(num(last.connections)) / \(num(last.reclaimBacklog)) at the last check; backlog max \(num(s.samples.map(\.reclaimBacklog).max() ?? 0))")
            }
        }
        o += "\nChecks\n"
        o += row("invariants", r.invariants.summary)
        o += row("full sweep at end", num(r.expiredSurvivingFullSweep) + " expired connections survived" + (r.variant == "seed2020" ? " (the 2020 walk stops at its first reap)" : ""))
        o += row("lock order", r.lockOrderViolations.isEmpty ? "no violation" : r.lockOrderViolations.joined(separator: "\n    "))
        return o
    }
}
