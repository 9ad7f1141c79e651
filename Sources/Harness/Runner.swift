import ConnTrack
import Dispatch
import FlowGen
import Histogram
import struct Synchronization.Atomic

/// Drives a table with generated (or replayed) packets on worker threads
/// while the reaper runs alongside, and measures everything.
public enum Runner {
    /// Runs the configured scenario.
    public static func run(_ config: RunConfig) throws(ConfigError) -> RunReport {
        try config.validate()
        switch config.design {
        case .buckets: return run(BucketTable.self, config, sources: nil)
        case .globalLock: return run(GlobalLockTable.self, config, sources: nil)
        }
    }

    /// Replays fixed packet lists (one per worker), e.g. a capture.
    public static func run(_ config: RunConfig, packets: [[Packet]]) throws(ConfigError) -> RunReport {
        try config.validate()
        switch config.design {
        case .buckets: return run(BucketTable.self, config, sources: packets)
        case .globalLock: return run(GlobalLockTable.self, config, sources: packets)
        }
    }

    /// Virtual time of a concurrent run: the minimum over unfinished
    /// workers, or the maximum once all have finished.
    static func virtualNow(_ shared: [WorkerShared]) -> Int64 {
        var lo = Int64.max, hi = Int64.min
        for w in shared {
            let t = w.virtualNow.load(ordering: .relaxed)
            hi = max(hi, t)
            if !w.finished.load(ordering: .acquiring) { lo = min(lo, t) }
        }
        return lo == Int64.max ? hi : lo
    }

    /// A source of packets for one worker.
    struct Source {
        var gen: FlowGenerator?
        var list: [Packet]?
        var pos = 0
        mutating func fill(_ buf: UnsafeMutableBufferPointer<Packet>) -> Int {
            if gen != nil { return gen!.fill(buf) }
            let n = min(buf.count, list!.count - pos)
            for k in 0..<n { buf[k] = list![pos + k] }
            pos += n
            return n
        }
    }

    static func run<T: ConnTrackTable>(_: T.Type, _ cfg: RunConfig, sources: [[Packet]]?) -> RunReport {
        let table = T(cfg.table)
        cfg.onTableCreated?(table)
        let threads = sources?.count ?? cfg.threads
        let real = cfg.clock != .virtual
        let startTime = real ? MonotonicClock.read() : 0
        let reaperWatch = WatchSlot(name: "reaper")
        let reaper = Reaper(table: table, policy: cfg.policy, startDelay: cfg.reaperStartDelay, startTime: startTime,
                            checkLockOrder: cfg.checkLockOrder, lockAction: cfg.checkLockOrder ? .trap : .record,
                            watch: reaperWatch)
        let shared = (0..<threads).map { WorkerShared(index: $0) }
        let wallStart = MonotonicClock.read()
        var srcs: [Source] = (0..<threads).map { w in
            if let s = sources { return Source(gen: nil, list: s[w]) }
            return Source(gen: FlowGenerator(cfg.scenario, stream: w, streams: threads), list: nil)
        }
        let totalPackets = sources.map { $0.reduce(0) { $0 + $1.count } } ?? cfg.scenario.packets
        let done = Atomic<Bool>(false)

        // Time series sampler (and progress line).
        var sampler: OSThread? = nil
        let samples = SampleLog()
        if cfg.sampleSeconds > 0 {
            sampler = OSThread {
                var lastPackets: UInt64 = 0
                var lastT = MonotonicClock.read()
                while !done.load(ordering: .relaxed) {
                    OSThread.sleep(nanoseconds: Int64(cfg.sampleSeconds * 1e9))
                    var s = TableStats()
                    for w in shared { s.merge(w.read()) }
                    let r = reaper.snapshot()
                    s.merge(r.stats)
                    let now = MonotonicClock.read()
                    let vnow = real ? now - startTime : Runner.virtualNow(shared)
                    let last = r.history.last
                    let sample = Sample(
                        wallSeconds: Double(now - wallStart) / 1e9, virtualSeconds: Double(vnow) / 1e9,
                        packets: s.packets, pps: Double(s.packets - lastPackets) / (Double(now - lastT) / 1e9),
                        live: Int64(s.created) - Int64(s.removed), reaperInterval: Double(r.interval) / 1e9,
                        expiredRatio: last.map { $0.checked > 0 ? Double($0.expired) / Double($0.checked) : 0 } ?? 0,
                        contendedPerMillion: s.bucketLock.acquisitions > 0 ? Double(s.bucketLock.contended) * 1e6 / Double(s.bucketLock.acquisitions) : 0,
                        fractionDone: Double(s.packets) / Double(max(1, totalPackets)))
                    samples.append(sample)
                    cfg.progress?(sample)
                    lastPackets = s.packets
                    lastT = now
                }
            }
        }

        // Deadlock watchdog.
        var watchdog: OSThread? = nil
        if cfg.watchdogSeconds > 0 {
            let slots = shared.map(\.watch) + [reaperWatch]
            watchdog = OSThread {
                var last = slots.map { $0.progress.load(ordering: .relaxed) }
                var stalledSince = MonotonicClock.read()
                while !done.load(ordering: .relaxed) {
                    OSThread.sleep(nanoseconds: 20_000_000)
                    let cur = slots.map { $0.progress.load(ordering: .relaxed) }
                    let anyWaiting = slots.contains { $0.waitingFor.load(ordering: .relaxed) != 0 }
                    if cur != last || !anyWaiting {
                        last = cur
                        stalledSince = MonotonicClock.read()
                    } else if Double(MonotonicClock.read() - stalledSince) / 1e9 >= cfg.watchdogSeconds {
                        let report = Watchdog.describe(slots, seconds: cfg.watchdogSeconds)
                        guard let onStall = cfg.onStall else {
                            writeStderr(report)
                            exit(ExitCode.deadlock)
                        }
                        onStall(report)
                        return
                    }
                }
            }
        }

        var tableNanos: Int64 = 0
        var generationNanos: Int64 = 0
        var finalCtxs: [WorkerContext] = []
        var livePeak: Int64 = 0

        if cfg.deterministic {
            // One worker, timestamp order, reaper passes inline at their due times.
            var ctx = WorkerContext(name: "worker-0", checkLockOrder: cfg.checkLockOrder, action: cfg.checkLockOrder ? .trap : .record)
            ctx.watch = shared[0].watch
            let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: cfg.chunk)
            defer { buf.deallocate() }
            var clock = VirtualClock(0)
            var processedTotal = 0
            while true {
                let g0 = MonotonicClock.read()
                let n = srcs[0].fill(buf)
                generationNanos += MonotonicClock.read() - g0
                if n == 0 { break }
                let t0 = MonotonicClock.read()
                process(table, buf, count: n, clock: &clock, tick: { c, p in c.current = p.timestamp }, ctx: &ctx,
                        shared: shared[0], slot: 0, batch: cfg.batch, sampleEvery: cfg.latencySampleEvery,
                        beforePacket: { p in if cfg.reaperEnabled { reaper.runDue(upTo: p.timestamp) } })
                table.reclaimer.collect()
                if processedTotal >= cfg.warmup { tableNanos += MonotonicClock.read() - t0 }
                processedTotal += n
                shared[0].lastTimestamp = buf[n - 1].timestamp
                livePeak = max(livePeak, Int64(ctx.stats.created) - Int64(ctx.stats.removed) - Int64(reaper.removedSoFar))
                shared[0].processed = processedTotal
            }
            shared[0].virtualNow.store(clock.current, ordering: .relaxed)
            finalCtxs = [ctx]
        } else {
            let slots = (0..<threads).map { _ in table.reclaimer.register() }
            let barrier = Barrier(parties: threads)
            let roundNanos = Atomic<Int64>(0)
            let roundStart = Atomic<Int64>(0)
            let anyLeft = Atomic<Int>(0)
            let group = DispatchGroup()
            let ctxBox = CtxBox(threads)
            let srcBox = SourceBox(srcs)
            if cfg.reaperEnabled {
                if real {
                    reaper.start(realTime: true, now: { MonotonicClock.read() })
                } else {
                    // Time the slowest unfinished worker has reached.
                    reaper.start(realTime: false, now: { Runner.virtualNow(shared) })
                }
            }
            for w in 0..<threads {
                let q = DispatchQueue(label: "conntrack-bench.worker-\(w)")
                group.enter()
                q.async {
                    var ctx = WorkerContext(name: "worker-\(w)", checkLockOrder: cfg.checkLockOrder,
                                            action: cfg.checkLockOrder ? .trap : .record)
                    ctx.watch = shared[w].watch
                    let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: cfg.chunk)
                    var processedTotal = 0
                    while true {
                        table.reclaimer.offline(slots[w])
                        let g0 = MonotonicClock.read()
                        let n = srcBox.fill(w, buf)
                        shared[w].generationNanos += MonotonicClock.read() - g0
                        if n > 0 { anyLeft.add(1, ordering: .relaxed) }
                        if barrier.wait() { roundStart.store(MonotonicClock.read(), ordering: .relaxed) }
                        barrier.wait()
                        if anyLeft.load(ordering: .relaxed) == 0 { break }
                        table.reclaimer.quiescent(slots[w])
                        switch cfg.clock {
                        case .virtual:
                            var clock = VirtualClock(0)
                            process(table, buf, count: n, clock: &clock, tick: { c, p in c.current = p.timestamp }, ctx: &ctx,
                                    shared: shared[w], slot: slots[w], batch: cfg.batch, sampleEvery: cfg.latencySampleEvery,
                                    beforePacket: { _ in })
                        case .real:
                            var clock = MonotonicClock()
                            process(table, buf, count: n, clock: &clock, tick: { _, _ in }, ctx: &ctx,
                                    shared: shared[w], slot: slots[w], batch: cfg.batch, sampleEvery: cfg.latencySampleEvery,
                                    beforePacket: { _ in })
                        case .coarse:
                            var clock = CoarseClock()
                            var k = 0
                            process(table, buf, count: n, clock: &clock,
                                    tick: { c, _ in k &+= 1; if k & 255 == 0 { c.tick() } }, ctx: &ctx,
                                    shared: shared[w], slot: slots[w], batch: cfg.batch, sampleEvery: cfg.latencySampleEvery,
                                    beforePacket: { _ in })
                        }
                        processedTotal += n
                        if n > 0 { shared[w].lastTimestamp = buf[n - 1].timestamp }
                        table.reclaimer.offline(slots[w])
                        if barrier.wait() {
                            if processedTotal > cfg.warmup {
                                roundNanos.add(MonotonicClock.read() - roundStart.load(ordering: .relaxed), ordering: .relaxed)
                            }
                            anyLeft.store(0, ordering: .relaxed)
                        }
                        barrier.wait()
                    }
                    shared[w].finished.store(true, ordering: .releasing)
                    shared[w].processed = processedTotal
                    buf.deallocate()
                    ctxBox.set(w, ctx)
                    group.leave()
                }
            }
            group.wait()
            reaper.stop()
            table.reclaimer.collect()
            tableNanos = roundNanos.load(ordering: .relaxed)
            generationNanos = shared.map(\.generationNanos).max() ?? 0
            finalCtxs = ctxBox.all()
        }
        done.store(true, ordering: .relaxed)
        sampler?.join()
        watchdog?.join()
        let wallNanos = MonotonicClock.read() - wallStart
        srcs.removeAll()
        return ReportBuilder.build(table: table, reaper: reaper, cfg: cfg, ctxs: finalCtxs, shared: shared,
                                   tableNanos: tableNanos, generationNanos: generationNanos, wallNanos: wallNanos,
                                   livePeak: max(samples.livePeak, livePeak),
                                   endTime: real ? MonotonicClock.read() : shared.map(\.lastTimestamp).max() ?? 0)
    }
}

/// Worker contexts handed back at the end.
final class CtxBox: @unchecked Sendable {
    let m = HeapMutex()
    var v: [WorkerContext?]
    init(_ n: Int) { v = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ c: WorkerContext) { m.withLock { v[i] = c } }
    func all() -> [WorkerContext] { m.withLock { v.compactMap { $0 } } }
}

/// Per-worker sources; each worker touches only its own cell.
final class SourceBox: @unchecked Sendable {
    final class Cell: @unchecked Sendable {
        var source: Runner.Source
        init(_ s: Runner.Source) { source = s }
    }
    let cells: [Cell]
    init(_ s: [Runner.Source]) { cells = s.map(Cell.init) }
    func fill(_ w: Int, _ buf: UnsafeMutableBufferPointer<Packet>) -> Int { cells[w].source.fill(buf) }
}

/// Samples taken during a run.
final class SampleLog: @unchecked Sendable {
    let m = HeapMutex()
    var samples: [Sample] = []
    func append(_ s: Sample) { m.withLock { samples.append(s) } }
    var livePeak: Int64 { m.withLock { samples.map(\.live).max() ?? 0 } }
}

#if canImport(Glibc)
import Glibc
#endif
