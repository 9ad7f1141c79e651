#if canImport(Glibc)
import Glibc
#endif
import ConnTrack
import Sync
import struct Synchronization.Atomic

/// The operation thread (`--op`): it watches the run's time, and when an
/// operation is due runs it on the live table, concurrently with the
/// workers (they do not pause), then measures what it cost them from
/// their timelines. It is registered with the table like a worker, so a
/// walk without locks reads nothing freed under it.
final class OperationRunner<T: ConnTrackTable>: @unchecked Sendable {
    let env: RunEnvironment<T>
    let specs: [OperationSpec]
    /// Where dumps go (`--op-out`'s spill file); nil: formatted and counted only.
    let dumpFD: Int32?
    let slot: Int
    private var thread: OSThread?
    private let stopRequested = Atomic<Bool>(false)
    /// Written by the operation thread, read after `stop` joined it.
    private var reports: [OperationReport] = []
    private var next: [Double]
    private var runs = 0
    /// The thread's context: its counters (removals by flush and delete)
    /// join the workers' at the end. Touched by the operation thread,
    /// read after `stop` joined it.
    private(set) var ctx: WorkerContext
    let wallStart: Int64

    init(_ env: RunEnvironment<T>, specs: [OperationSpec], dumpFD: Int32?, wallStart: Int64) {
        self.env = env
        self.specs = specs
        self.dumpFD = dumpFD
        self.wallStart = wallStart
        next = specs.map(\.at)
        ctx = WorkerContext(name: "operations", checkLockOrder: env.cfg.checkLockOrder,
                            action: env.cfg.checkLockOrder ? .trap : .record)
        slot = env.table.registerWorker()
        env.table.workerOffline(slot)
        for w in env.workers { w.timeline = WorkerTimeline() }
    }

    /// The run's time now: virtual (the slowest unfinished worker's), or
    /// the real clock since the start.
    func now() -> Int64 {
        env.cfg.clock == .virtual ? RoundsDriver.virtualNow(env.workers) : MonotonicClock.read() - env.startTime
    }

    func start() {
        thread = OSThread { [self] in
            while !stopRequested.load(ordering: .relaxed) {
                let t = Double(now()) / 1e9
                guard let i = next.indices.filter({ next[$0] <= t }).min(by: { next[$0] < next[$1] }) else {
                    OSThread.sleep(nanoseconds: 1_000_000)
                    continue
                }
                run(specs[i], due: next[i], at: now())
                next[i] = specs[i].every.map { next[i] + $0 * max(1, ((t - next[i]) / $0).rounded(.down) + 1) } ?? .infinity
            }
        }
    }

    /// Stops the thread (an operation in progress completes first).
    func stop() -> OperationsReport {
        stopRequested.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
        let notRun = specs.indices.filter { next[$0].isFinite }.map { "\(specs[$0].kind.rawValue)@\(ReportFormatter.f(next[$0], 3))" }
        return OperationsReport(operations: reports, notRun: notRun)
    }

    private func run(_ spec: OperationSpec, due: Double, at virtualNow: Int64) {
        runs += 1
        let wait0 = lockWaits()
        env.operationActivity.begin(reports.count + 1)
        let t0 = MonotonicClock.read()
        var counts: OperationCounts? = nil
        var stats: [String: UInt64]? = nil
        var records: [ConnectionRecord] = []
        switch spec.kind {
        case .dump:
            // The walk copies the records; the lines are formatted after
            // it, outside every lock (as conntrack's netlink dump hands
            // records to the program that prints them), and timed apart.
            env.table.workerQuiescent(slot)
            records.reserveCapacity(1024)
            counts = env.table.dumpWhileRunning(now: virtualNow, slot: slot, &ctx) { records.append($0) }
            env.table.workerOffline(slot)
        case .save:
            // A dump's walk, kept as a saved table. A connection removed
            // during the walk and one that replaced it with the same tuple
            // may both be listed: the later-used one is kept, so that the
            // file loads.
            env.table.workerQuiescent(slot)
            var all: [ConnectionRecord] = []
            counts = env.table.dumpWhileRunning(now: virtualNow, slot: slot, &ctx) { all.append($0) }
            env.table.workerOffline(slot)
            records = Self.unique(all)
            env.saveWhileRunning(at: virtualNow, records: records)
        case .flush, .delete:
            env.table.workerQuiescent(slot)
            counts = env.table.removeWhileRunning(spec.kind == .flush ? ConnectionFilter() : spec.filter, now: virtualNow,
                                                  slot: slot, &ctx)
            env.table.workerOffline(slot)
            env.operationActivity.didRemove(counts?.removed ?? 0)
        case .resize:
            env.table.workerQuiescent(slot)
            counts = env.table.resizeWhileRunning(to: spec.size!, now: virtualNow, slot: slot, &ctx)
            env.table.workerOffline(slot)
        case .stats:
            var s = TableStats()
            for w in env.workers { s.merge(w.read()) }
            stats = ["found": s.found, "invalid": s.invalid, "insert": s.insert, "insert_failed": s.insertFailed,
                     "drop": s.drop, "early_drop": s.earlyDrop, "search_restart": s.searchRestart,
                     "chaintoolong": s.chainTooLong, "clash": s.insertClash]
        }
        let t1 = MonotonicClock.read()
        env.operationActivity.end(reports.count + 1)
        // The workers publish their counters and timelines at batch ends:
        // a worker the operation held up ends its batch after it. The
        // figures are read once 60 ms more have passed.
        OSThread.sleep(nanoseconds: 60_000_000)
        let wait1 = lockWaits()
        var report = measure(spec, due: due, virtualNow: virtualNow, t0: t0, t1: t1, counts: counts, bytes: nil,
                             stats: stats, lockWait: wait1 - wait0)
        if spec.kind == .dump {
            let f0 = MonotonicClock.read()
            var total = 0
            if let fd = dumpFD {
                writeAll(fd, "# dump \(runs) at \(ReportFormatter.f(Double(virtualNow) / 1e9, 3)) s of virtual time\n")
            }
            let timeouts = env.cfg.table.timeouts
            var k = 0
            while k < records.count {
                let lines = ConntrackListing.text(ConntrackListing.rows(Array(records[k..<min(records.count, k + 4096)]),
                                                                        timeouts: timeouts, now: virtualNow))
                total += lines.utf8.count
                if let fd = dumpFD { writeAll(fd, lines) }
                k += 4096
            }
            report.bytes = total
            report.formatMillis = Double(MonotonicClock.read() - f0) / 1e6
        }
        reports.append(report)
    }

    /// `records` with no tuple twice: of records sharing a tuple, the one
    /// used last (then the later listed) is kept; the order is kept.
    static func unique(_ records: [ConnectionRecord]) -> [ConnectionRecord] {
        let byRecency = records.indices.sorted { a, b in
            records[a].lastUsed != records[b].lastUsed ? records[a].lastUsed > records[b].lastUsed : a > b
        }
        var claimed = Set<TupleID>()
        var keep = [Bool](repeating: false, count: records.count)
        for i in byRecency where !claimed.contains(records[i].original) && !claimed.contains(records[i].reply) {
            keep[i] = true
            claimed.insert(records[i].original)
            claimed.insert(records[i].reply)
        }
        return records.indices.filter { keep[$0] }.map { records[$0] }
    }

    private func lockWaits() -> Int64 {
        var n: UInt64 = 0
        for w in env.workers {
            let s = w.read()
            n &+= s.bucketLock.waitNanos &+ s.connLock.waitNanos &+ s.tableLock.waitNanos
        }
        return Int64(n)
    }

    /// The figures around [t0, t1] from the workers' timelines.
    private func measure(_ spec: OperationSpec, due: Double, virtualNow: Int64, t0: Int64, t1: Int64,
                         counts: OperationCounts?, bytes: Int?, stats: [String: UInt64]?, lockWait: Int64) -> OperationReport {
        let second: Int64 = 1_000_000_000
        let margin: Int64 = 50_000_000
        var during = 0, before = 0
        var latDuring: [UInt64] = [], latBefore: [UInt64] = []
        let bins = Int(min(10_000, (t1 - t0 + 2 * margin) / 1_000_000 + 1))
        var perMs = [Int](repeating: 0, count: bins)
        let binStart = t0 - margin
        // The history before the operation: a second, or from the first
        // batch end the rings hold when the run is younger than that.
        var earliest = t0
        for w in env.workers {
            if let first = w.timeline?.batches.entries(in: (t0 - second)..<t0).first { earliest = min(earliest, first.time) }
        }
        let beforeStart = earliest
        let beforeSpan = t0 - beforeStart
        let beforeCovered = beforeSpan >= 100_000_000
        for w in env.workers {
            guard let tl = w.timeline else { continue }
            let batches = tl.batches.entries(in: beforeStart..<(max(t1, t0 + 1) + margin))
            // Packets in a range: the difference of the running count at
            // the last batch end before each bound.
            var prev: UInt64? = nil
            for (t, cum) in batches {
                if let p = prev {
                    let n = Int(cum - p)
                    if t >= t0 && t <= t1 { during += n } else if t < t0 { before += n }
                    let k = Int((t - binStart) / 1_000_000)
                    if k >= 0 && k < bins { perMs[k] += n }
                }
                prev = cum
            }
            for (t, v) in tl.latencies.entries(in: beforeStart..<(max(t1, t0 + 1))) {
                if t >= t0 { latDuring.append(v) } else { latBefore.append(v) }
            }
        }
        let dur = Double(max(1, t1 - t0)) / 1e9
        return OperationReport(
            kind: spec.kind.rawValue, spec: spec.description, dueSeconds: due, startedAtSeconds: Double(virtualNow) / 1e9,
            wallOffsetSeconds: Double(t0 - wallStart) / 1e9, durationMillis: Double(t1 - t0) / 1e6,
            counts: counts, bytes: bytes, stats: stats,
            packetsDuring: during, packetsPerSecondDuring: Double(during) / dur,
            packetsPerSecondBefore: beforeCovered ? Double(before) / (Double(beforeSpan) / 1e9) : nil,
            beforeSeconds: beforeCovered ? Double(beforeSpan) / 1e9 : nil,
            latencyDuring: OperationReport.LatencySummary.of(latDuring),
            latencyBefore: beforeCovered ? OperationReport.LatencySummary.of(latBefore) : nil,
            workerLockWaitMillis: Double(lockWait) / 1e6, perMillisecond: perMs,
            perMillisecondStartOffsetMillis: -Double(margin) / 1e6)
    }

    private func writeAll(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n <= 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }
}
