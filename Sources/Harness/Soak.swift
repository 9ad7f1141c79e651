#if canImport(Glibc)
import Glibc
#endif
import CAllocStats
import ConnTrack
import Sync

/// A soak: the scenario streams without end (its `packets` and `duration`
/// set the rate) until the wall-clock duration passes or a signal arrives.
public struct SoakConfig: Sendable {
    /// Wall-clock seconds to run; `.infinity`: until SIGINT or SIGTERM.
    public var seconds: Double
    /// Wall-clock seconds between checks.
    public var checkEvery: Double = 10
    /// After warm-up, RSS may grow by at most this share of its warm RSS,
    /// plus what the table's own growth accounts for (connections added
    /// since warm-up × the design's bytes per connection × 2 for the
    /// allocator): growth the table does not explain is a leak.
    public var rssGrowthLimit: Double = 0.10
    /// Checks that belong to the warm-up at least; warm-up also lasts until
    /// virtual time passes twice the longest timeout other than
    /// established (the connections of ended flows linger that long) and
    /// the table has plateaued: connections changed by at most
    /// `plateau` since the previous check.
    public var warmupChecks: Int = 2
    public var plateau: Double = 0.05

    public init(seconds: Double) { self.seconds = seconds }
}

/// One soak check.
public struct SoakSample: Codable, Sendable, Equatable {
    public var wallSeconds: Double
    public var virtualSeconds: Double
    public var packets: UInt64
    public var rssBytes: Int
    public var connections: Int
    /// Removed connections not yet freed.
    public var reclaimBacklog: Int
    public var invariantsOK: Bool
}

/// What the soak's checks found.
public struct SoakReport: Codable, Sendable, Equatable {
    public var seconds: Double?
    public var checkEverySeconds: Double
    public var checks: Int
    public var samples: [SoakSample]
    /// RSS at the end of warm-up (the check it ended at), and the limit
    /// after it.
    public var warmRSSBytes: Int?
    public var warmConnections: Int?
    public var warmAfterCheck: Int?
    public var rssGrowthLimit: Double
    public var failures: [String]
    public var failed: Bool { !failures.isEmpty }
}

/// Runs the checks: a boundary hook the runner registers for a soak, so
/// the windowed driver's leader calls it while every worker waits at a
/// window boundary (the table is quiescent).
final class SoakMonitor<T: ConnTrackTable>: @unchecked Sendable {
    let cfg: SoakConfig
    let env: RunEnvironment<T>
    let start: Int64
    let deadline: Int64
    /// Virtual time after which the table has plateaued.
    let warmVirtual: Int64
    var nextCheck: Int64
    /// owned by the leader of each window in turn (barrier-ordered)
    var report: SoakReport

    init(_ cfg: SoakConfig, _ env: RunEnvironment<T>) {
        self.cfg = cfg
        self.env = env
        start = MonotonicClock.read()
        deadline = cfg.seconds.isFinite ? start + Int64(cfg.seconds * 1e9) : Int64.max
        nextCheck = start + Int64(cfg.checkEvery * 1e9)
        warmVirtual = 2 * env.cfg.table.timeouts.longestUnestablished
        report = SoakReport(seconds: cfg.seconds.isFinite ? cfg.seconds : nil, checkEverySeconds: cfg.checkEvery,
                            checks: 0, samples: [], rssGrowthLimit: cfg.rssGrowthLimit, failures: [])
    }

    /// True when the soak should stop (time is up or a check failed).
    /// Preconditions: every worker waits at the barrier.
    func step(virtualNow: Int64) -> Bool {
        let now = MonotonicClock.read()
        if now >= nextCheck || now >= deadline {
            check(now: now, virtualNow: virtualNow)
            nextCheck = now + Int64(cfg.checkEvery * 1e9)
        }
        return now >= deadline || report.failed
    }

    func check(now: Int64, virtualNow: Int64) {
        // RSS first, with freed memory handed back: the checks below build
        // large temporary sets (and so did the previous check's), which the
        // allocator would otherwise keep resident.
        ct_release_free_memory()
        let rss = Self.residentBytes()
        let inv = env.table._checkInvariants(uniqueIDs: nil)
        let ins = env.table.inspect()
        var packets: UInt64 = 0
        for w in env.workers { packets &+= w.read().packets }
        report.checks += 1
        report.samples.append(SoakSample(wallSeconds: Double(now - start) / 1e9, virtualSeconds: Double(virtualNow) / 1e9,
                                         packets: packets, rssBytes: rss, connections: ins.connections,
                                         reclaimBacklog: ins.retiredNotFreed, invariantsOK: inv.ok))
        if !inv.ok { report.failures.append("check \(report.checks): \(inv.summary)") }
        let prev = report.samples.count >= 2 ? report.samples[report.samples.count - 2].connections : 0
        let flat = ins.connections > 0 && Double(abs(ins.connections - prev)) <= cfg.plateau * Double(ins.connections)
        if report.warmRSSBytes == nil && report.checks >= cfg.warmupChecks && virtualNow >= warmVirtual && flat {
            report.warmRSSBytes = rss
            report.warmConnections = ins.connections
            report.warmAfterCheck = report.checks
        }
        if let warm = report.warmRSSBytes, let warmConns = report.warmConnections,
           report.checks > report.warmAfterCheck ?? Int.max {
            let tableGrowth = Double(max(0, ins.connections - warmConns)) * Double(T.traits.bytesPerConnection) * 2
            let limit = Double(warm) * (1 + cfg.rssGrowthLimit) + tableGrowth
            if Double(rss) > limit {
                report.failures.append("check \(report.checks): RSS grew from \(warm >> 20) MiB after warm-up to \(rss >> 20) MiB, above +\(Int(cfg.rssGrowthLimit * 100)) % plus \(Int(tableGrowth) >> 20) MiB for \(ins.connections - warmConns) more connections")
            }
        }
    }

    /// Current resident set size (/proc/self/statm), bytes.
    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        guard withUnsafeMutablePointer(to: &size, { s in
            withUnsafeMutablePointer(to: &resident) { r in vfscanf_pair(f, s, r) }
        }) else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Reads two integers from a statm line.
    private static func vfscanf_pair(_ f: UnsafeMutablePointer<FILE>, _ a: UnsafeMutablePointer<Int>, _ b: UnsafeMutablePointer<Int>) -> Bool {
        var buf = [CChar](repeating: 0, count: 128)
        guard fgets(&buf, 128, f) != nil else { return false }
        let parts = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
        guard parts.count >= 2, let x = Int(parts[0]), let y = Int(parts[1]) else { return false }
        a.pointee = x; b.pointee = y
        return true
    }
}

extension SoakMonitor: RunBoundaryHook {
    /// The checks keep the wall clock, at whichever boundary comes once due.
    var dueTime: Int64? { nil }

    /// Checks when due; `.stop` once time is up or a check failed.
    func atBoundary(_ b: RunBoundary) -> RunBoundary.Verdict {
        step(virtualNow: b.now) ? .stop : .proceed
    }
}
