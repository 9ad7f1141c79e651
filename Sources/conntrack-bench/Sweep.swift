import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a grid of bucket counts x reap fractions x max-expired ratios x threads, write CSV/JSON and SVG plots, and recommend settings.")

    @OptionGroup var scenario: ScenarioArgs
    @Option(help: "Table behaviour for every run.")
    var variant: Variant = .fixed
    @Option(help: "Bucket counts, comma-separated.")
    var bucketsList: String = "1024,4096,16384,65536,262144"
    @Option(help: "Reap fractions (a pass walks buckets/fraction), comma-separated.")
    var fractions: String = "16,128,1024"
    @Option(help: "Max-expired percentages, comma-separated.")
    var maxExpired: String = "50"
    @Option(help: "Worker counts, comma-separated.")
    var threadsList: String = "1,2"
    @Option(help: "Repetitions per point (1...20); packets/s is reported as mean ± σ and min–max, plotted with error bars.")
    var repeats: Int = 1
    @Option(help: "Output directory (created; existing files replaced).")
    var out: String = "sweep-out"
    @Option(help: "Hash seed for every run; drawn at random once (and printed) when omitted.")
    var hashSeed: UInt32?

    func ints(_ s: String, _ name: String, _ range: ClosedRange<Int>) throws -> [Int] {
        let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && range.contains($0!) }) else {
            throw ValidationError("\(name) must be a comma-separated list of integers in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
        }
        return v.map { $0! }
    }

    struct Point: Codable {
        var buckets: Int, fraction: Int, maxExpiredPct: Int, threads: Int
        /// Mean over repeats, and the spread.
        var packetsPerSecond: Double, packetsPerSecondSpread: Spread
        var p99LatencyNanos: Double, p99LatencySpread: Spread
        var chainP99: Double, chainMean: Double
        var loadFactor: Double, live: Int64, expiredStillLinked: Int, reaperBusySeconds: Double
        var reaperPasses: Int, reaperPassesDue: Int, contendedPct: Double, cpusUtilized: Double
        /// Why a repeat of this point cannot be trusted (starved, reaper behind).
        var flags: [String]
        var repeats: [Repeat]
    }

    /// One repeat's figures (the full reports would make the file megabytes).
    struct Repeat: Codable {
        var packetsPerSecond: Double, p99LatencyNanos: Double, cpusUtilized: Double
        var created: UInt64, live: Int64, expiredStillLinked: Int, reaperPassesRun: Int, reaperPassesDue: Int
        var warnings: [String]
        init(_ r: RunReport) {
            packetsPerSecond = r.packetsPerSecond; p99LatencyNanos = r.latencyNanos.p99; cpusUtilized = r.cpu.cpusUtilized
            created = r.created; live = r.live; expiredStillLinked = r.expiredStillLinkedAtEnd
            reaperPassesRun = r.reaperHealth?.passesRun ?? 0; reaperPassesDue = r.reaperHealth?.passesDue ?? 0
            warnings = r.warnings
        }
    }

    mutating func run() throws {
        let bl = try ints(bucketsList, "--buckets-list", 1...(1 << 26))
        let fl = try ints(fractions, "--fractions", 1...(1 << 20))
        let el = try ints(maxExpired, "--max-expired", 0...100)
        let tl = try ints(threadsList, "--threads-list", 1...64)
        guard repeats >= 1 && repeats <= 20 else { throw ValidationError("--repeats must be in 1...20, got \(repeats)") }
        let opts = try scenario.options()
        let seed = hashSeed ?? drawnHashSeed
        let fm = FileManager.default
        // The output directory: created if missing; its parent must exist.
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ValidationError("--out: '\(out)' exists and is not a directory") }
            guard fm.isWritableFile(atPath: out) else { throw ValidationError("--out: directory '\(out)' is not writable") }
        } else {
            let (parent, _) = OutputFile.split(out.hasSuffix("/") && out.count > 1 ? String(out.dropLast()) : out)
            guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--out: directory '\(parent)' does not exist")
            }
            guard fm.isWritableFile(atPath: parent) else { throw ValidationError("--out: directory '\(parent)' is not writable") }
        }
        let total = bl.count * fl.count * el.count * tl.count
        var points: [Point] = []
        var k = 0
        for b in bl { for f in fl { for e in el { for t in tl {
            k += 1
            var c = RunConfig()
            c.table = TableConfig(buckets: b, hashSeed: seed, variant: variant)
            c.scenario = opts
            c.threads = t
            c.policy = .seed(SeedReaperPolicy(fraction: f, maxExpiredPercent: e))
            c.checkLockOrder = false
            try validated(c)
            var runs: [RunReport] = []
            for _ in 0..<repeats { runs.append(try Runner.run(c)) }
            let rep = RepeatedRun(runs)
            let r = rep.medianRun
            let acq = r.bucketLocks.acquisitions + r.connectionLocks.acquisitions + r.tableLock.acquisitions
            let con = r.bucketLocks.contended + r.connectionLocks.contended + r.tableLock.contended
            let flags = rep.warnings.map { $0.split(separator: ":").first.map(String.init) ?? $0 }
            points.append(Point(buckets: b, fraction: f, maxExpiredPct: e, threads: t,
                                packetsPerSecond: rep.packetsPerSecond.mean, packetsPerSecondSpread: rep.packetsPerSecond,
                                p99LatencyNanos: rep.latencyP99Nanos.mean, p99LatencySpread: rep.latencyP99Nanos,
                                chainP99: r.chainWalked.p99, chainMean: r.chainWalked.mean,
                                loadFactor: Double(r.tuplesAtEnd) / Double(b), live: r.live,
                                expiredStillLinked: r.expiredStillLinkedAtEnd, reaperBusySeconds: r.reaperBusySeconds,
                                reaperPasses: r.reaperPasses, reaperPassesDue: r.reaperHealth?.passesDue ?? 0,
                                contendedPct: acq > 0 ? Double(con) * 100 / Double(acq) : 0,
                                cpusUtilized: rep.cpusUtilized.mean, flags: Array(Set(flags)).sorted(), repeats: runs.map(Repeat.init)))
            writeLine(2, "[\(k)/\(total)] buckets \(b) fraction \(f) max-expired \(e)% threads \(t): \(rep.packetsPerSecond.text(scale: 1e6, unit: " M")) pkt/s" + (flags.isEmpty ? "" : "  FLAGGED: " + flags.joined(separator: ", ")))
        }}}}

        // Time series of one run (the middle grid point) for the over-time
        // plots: sampled every 50 ms of wall time.
        var mid = RunConfig()
        mid.table = TableConfig(buckets: bl[bl.count / 2], hashSeed: seed, variant: variant)
        mid.scenario = opts
        mid.threads = 1
        mid.policy = .seed(SeedReaperPolicy(fraction: fl[fl.count / 2], maxExpiredPercent: el[0]))
        mid.checkLockOrder = false
        mid.sampleSeconds = 0.05
        let series = try Runner.run(validated(mid)).timeSeries

        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws {
            try OutputFile(out.hasSuffix("/") ? out + name : out + "/" + name, option: "--out").write(text)
        }
        var csv = "buckets,fraction,max_expired_pct,threads,pps_mean,pps_stddev,pps_min,pps_max,p99_latency_ns,chain_p99,chain_mean,load_factor,live,expired_still_linked,reaper_busy_s,reaper_passes,reaper_passes_due,contended_pct,cpus_utilized,flags\n"
        for p in points {
            let s = p.packetsPerSecondSpread
            csv += "\(p.buckets),\(p.fraction),\(p.maxExpiredPct),\(p.threads),\(Int(s.mean)),\(Int(s.stddev)),\(Int(s.min)),\(Int(s.max)),\(p.p99LatencyNanos),\(p.chainP99),\(p.chainMean),\(p.loadFactor),\(p.live),\(p.expiredStillLinked),\(p.reaperBusySeconds),\(p.reaperPasses),\(p.reaperPassesDue),\(p.contendedPct),\(p.cpusUtilized),\(p.flags.joined(separator: ";"))\n"
        }
        try write("sweep.csv", csv)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write("sweep.json", String(decoding: try enc.encode(points), as: UTF8.self))

        let maxT = tl.max()!, midF = fl[fl.count / 2], e0 = el[0]
        // Every title names what was run.
        let what = "\(opts.scenario.rawValue), \(variant.rawValue), \(opts.packets / 1_000_000 > 0 ? "\(opts.packets / 1_000_000) M" : "\(opts.packets)") packets, \(repeats) repeat(s)"
        func plot(_ title: String, _ x: String, _ y: String, logX: Bool, groups: [(String, [Point])], _ fx: (Point) -> Double,
                  _ fy: (Point) -> Double, bars: ((Point) -> (Double, Double))? = nil) -> String {
            var p = SVGPlot(title: "\(title) (\(what))", xLabel: x, yLabel: y, logX: logX)
            for (label, pts) in groups {
                p.series.append(.init(label: label, points: pts.map { q in
                    let b = bars?(q)
                    return SVGPlot.Point(fx(q), fy(q), low: b?.0, high: b?.1)
                }))
            }
            return p.render()
        }
        let ppsBars = { (p: Point) in (p.packetsPerSecondSpread.min, p.packetsPerSecondSpread.max) }
        let p99Bars = { (p: Point) in (p.p99LatencySpread.min, p.p99LatencySpread.max) }
        let byThreads = tl.map { t in ("\(t) worker(s)", points.filter { $0.threads == t && $0.fraction == midF && $0.maxExpiredPct == e0 }) }
        try write("throughput-vs-buckets.svg", plot("Throughput vs buckets, fraction \(midF)", "buckets", "packets/s", logX: true, groups: byThreads, { Double($0.buckets) }, \.packetsPerSecond, bars: ppsBars))
        try write("p99-latency-vs-buckets.svg", plot("p99 latency vs buckets", "buckets", "ns", logX: true, groups: byThreads, { Double($0.buckets) }, \.p99LatencyNanos, bars: p99Bars))
        var chain = SVGPlot(title: "Chain walked per lookup vs load factor (\(what))", xLabel: "tuples per bucket at end", yLabel: "tuples walked", logX: true)
        let atMaxThreads = points.filter { $0.threads == maxT }
        chain.series = [.init(label: "p99", points: atMaxThreads.map { ($0.loadFactor, $0.chainP99) }),
                        .init(label: "mean", points: atMaxThreads.map { ($0.loadFactor, $0.chainMean) })]
        try write("chain-vs-load-factor.svg", chain.render())
        let contention = fl.map { f in ("fraction \(f)", points.filter { $0.fraction == f && $0.buckets == bl[bl.count / 2] && $0.maxExpiredPct == e0 }) }
        try write("contention-vs-threads.svg", plot("Contended locks vs workers, \(bl[bl.count / 2]) buckets", "workers", "% contended", logX: false,
                                                     groups: contention, { Double($0.threads) }, \.contendedPct))
        var over = SVGPlot(title: "Reaper interval, \(mid.table.buckets) buckets, fraction \(fl[fl.count / 2]) (\(opts.scenario.rawValue), \(variant.rawValue), 1 run)",
                           xLabel: "virtual seconds", yLabel: "interval (ms)")
        over.series = [.init(label: "interval", points: series.map { ($0.virtualSeconds, $0.reaperInterval * 1000) })]
        try write("reaper-interval-over-time.svg", over.render())
        var live = SVGPlot(title: "Live connections, \(mid.table.buckets) buckets, fraction \(fl[fl.count / 2]) (\(opts.scenario.rawValue), \(variant.rawValue), 1 run)",
                           xLabel: "virtual seconds", yLabel: "connections")
        live.series = [.init(label: "live", points: series.map { ($0.virtualSeconds, Double($0.live)) })]
        try write("live-over-time.svg", live.render())
        let byFraction = fl.map { f in ("fraction \(f)", points.filter { $0.fraction == f && $0.threads == maxT && $0.maxExpiredPct == e0 }) }
        try write("expired-kept-vs-buckets.svg", plot("Expired connections kept at the end", "buckets", "connections", logX: true, groups: byFraction, { Double($0.buckets) }, { Double($0.expiredStillLinked) }))

        // Recommendation.
        var text = "sweep: \(points.count) points × \(repeats) repeat(s) of \(opts.scenario.rawValue), \(opts.packets) packets, variant \(variant.rawValue), hash seed \(seed) (--hash-seed); outputs in \(out)/\n"
        // Flagged points (starved, or a reaper that fell behind) are never
        // recommended: their figures do not show what the setting does.
        let flagged = points.filter { !$0.flags.isEmpty }
        if !flagged.isEmpty {
            text += "excluded (flagged): " + flagged.map { "buckets \($0.buckets) fraction \($0.fraction) max-expired \($0.maxExpiredPct)% threads \($0.threads) [\($0.flags.joined(separator: ", "))]" }.joined(separator: "; ") + "\n"
        }
        let atMax = points.filter { $0.threads == maxT && $0.flags.isEmpty }
        if let best = atMax.max(by: { $0.packetsPerSecond < $1.packetsPerSecond }) {
            let ok = atMax.filter { $0.packetsPerSecond >= 0.95 * best.packetsPerSecond }
            let fewest = ok.min { $0.buckets < $1.buckets }!
            text += "best throughput: \(Int(best.packetsPerSecond)) pkt/s at \(best.buckets) buckets, fraction \(best.fraction), \(maxT) worker(s)\n"
            text += "recommended buckets: \(fewest.buckets) (fewest within 5% of the best: \(Int(fewest.packetsPerSecond)) pkt/s)\n"
            // Ideal live = live without expired connections kept.
            let cands = atMax.filter { $0.buckets == fewest.buckets }
            let good = cands.filter { p in
                let ideal = Double(p.live - Int64(p.expiredStillLinked))
                return ideal <= 0 || Double(p.live) <= 1.10 * ideal
            }
            if let f = good.min(by: { $0.reaperBusySeconds < $1.reaperBusySeconds }) {
                text += "recommended reap fraction: \(f.fraction) with max-expired \(f.maxExpiredPct)% (live within 10% of ideal: \(f.live) live, \(f.expiredStillLinked) expired kept; reaper busy \(String(format: "%.3f", f.reaperBusySeconds)) s, the lowest such)\n"
            } else {
                text += "no reap fraction kept live connections within 10% of ideal at \(fewest.buckets) buckets; try smaller fractions\n"
            }
        } else {
            text += "no unflagged point at \(maxT) worker(s): no recommendation (rerun on a quieter machine)\n"
        }
        try write("recommendation.txt", text)
        print(text, terminator: "")
    }
}
