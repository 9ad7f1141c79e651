import ConnTrack
import Dispatch
import Histogram
import Sync
import struct Synchronization.Atomic

/// Paced runs (`--rate`): packets arrive in real time at a fixed rate into
/// each worker's receive ring (`ReceiveRing`), and the worker takes the
/// waiting ones in batches, as a poll-mode datapath does. A packet that
/// finds its ring full is dropped and never reaches the table. The reaper
/// runs on its own thread, as in a free-running run, so its passes and
/// their lock holds land among the workers' batches as they would in a
/// datapath; table time is the packets' own (virtual clock) or
/// CLOCK_MONOTONIC (`--clock real`).
///
/// No thread feeds the rings (this machine has two cores): each worker
/// computes from the clock how many of its packets have arrived. A
/// worker's packets come from its source in chunks; while it generates
/// one, its arrival clock stands still (generation is the harness's work).
/// At each batch boundary it reads the wall clock, its thread's CPU time,
/// its lock-wait counters and the reaper's pass counter, so the longest
/// pause can be told apart: a reaper pass, lock waits, descheduling, or
/// the table's own work.
enum PacedDriver {
    static func drive<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> DriveResult {
        let cfg = env.cfg
        guard let pacing = cfg.pacing else { preconditionFailure("the paced driver needs --rate") }
        let threads = env.workers.count
        let table = env.table
        let workers = env.workers
        let slots = (0..<threads).map { _ in table.registerWorker() }
        let start = Barrier(parties: threads, spinNanos: cfg.waitSpinNanos)
        let contexts = ContextBox(threads)
        let states = (0..<threads).map { w in
            PacedWorker(index: w, rate: pacing.rate / threads + (w < pacing.rate % threads ? 1 : 0),
                        ring: pacing.ring, chunk: cfg.chunk, seconds: pacing.seconds)
        }
        let boundaryCost = PacedWorker.measureBoundaryCost()
        if cfg.reaperEnabled {
            if cfg.clock != .virtual {
                env.reaper.start(realTime: true, now: { MonotonicClock.read() })
            } else {
                env.reaper.start(realTime: false, now: { RoundsDriver.virtualNow(workers) })
            }
        }
        // Every ring starts at the same instant: the first worker through
        // the start barrier sets it.
        let t0 = Atomic<Int64>(0)
        let group = DispatchGroup()
        for w in 0..<threads {
            let q = DispatchQueue(label: "conntrack-bench.worker-\(w)")
            group.enter()
            q.async {
                workers[w].beginThreadAccounting()
                var ctx = env.makeContext(w)
                let state = states[w]
                table.workerOffline(slots[w])
                state.firstFill(env)
                var waiter = Waiter()
                if start.wait(&waiter) { t0.store(MonotonicClock.read(), ordering: .relaxed) }
                start.wait(&waiter)
                table.workerQuiescent(slots[w])
                state.run(env, slot: slots[w], t0: t0.load(ordering: .relaxed), &ctx)
                table.workerOffline(slots[w])
                workers[w].waits = waiter.stats
                workers[w].endThreadAccounting()
                workers[w].finished.store(true, ordering: .releasing)
                contexts.set(w, ctx)
                group.leave()
            }
        }
        group.wait()
        env.reaper.stop()
        var ctx = WorkerContext(name: "driver", checkLockOrder: cfg.checkLockOrder)
        table.reclaim(&ctx)
        var result = DriveResult(contexts: contexts.all(), tableNanos: states.map(\.servedNanos).max() ?? 0,
                                 generationNanos: workers.map(\.generationNanos).max() ?? 0, livePeak: 0,
                                 endTime: cfg.clock != .virtual ? MonotonicClock.read() : workers.map(\.lastTimestamp).max() ?? 0)
        result.paced = PacedWorker.report(states, offered: pacing.rate, ring: pacing.ring, boundaryCost: boundaryCost)
        return result
    }
}

/// One worker of a paced run: its ring, its buffer of packets, and what it
/// measured. Touched only by its worker until the run joins.
final class PacedWorker: @unchecked Sendable {
    let index: Int
    var ring: ReceiveRing
    /// The worker's packets: the waiting ones compacted to the front at a
    /// refill, then a fresh chunk from the source.
    let buf: UnsafeMutableBufferPointer<Packet>
    let chunk: Int
    /// Stream index of the packet at `freshOffset`, and one past the last
    /// packet in the buffer.
    var freshStream = 0, freshOffset = 0, bufferEnd = 0
    /// The source has no more packets.
    var exhausted = false
    /// Arrivals stop after this many (a trial's length); Int.max: none.
    let arrivalLimit: Int
    var queueing = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    var longest: PacedReport.Pause?
    /// From the first arrival to the last batch's end, less generation.
    var servedNanos: Int64 = 0

    /// Batch boundaries the worker sleeps through when the next packet is
    /// further off than this; it spins for the rest.
    static let sleepBeyondNanos: Int64 = 60_000
    static let wakeEarlyNanos: Int64 = 50_000

    init(index: Int, rate: Int, ring: Int, chunk: Int, seconds: Double? = nil) {
        self.index = index
        self.ring = ReceiveRing(capacity: ring, rate: max(1, rate), t0: 0)
        arrivalLimit = seconds.map { max(1, Int(Double(max(1, rate)) * $0)) } ?? Int.max
        self.chunk = chunk
        buf = .allocate(capacity: chunk + ring)
    }

    deinit { buf.deallocate() }

    /// The first chunk, before the rings start.
    func firstFill<T: ConnTrackTable>(_ env: RunEnvironment<T>) {
        let g0 = MonotonicClock.read()
        let n = env.fill(index, UnsafeMutableBufferPointer(rebasing: buf[0..<chunk]))
        env.workers[index].generationNanos += MonotonicClock.read() - g0
        bufferEnd = n
        exhausted = n == 0
    }

    /// The waiting packets moved to the front, then the next chunk after
    /// them; the arrival clock stands still meanwhile.
    func refill<T: ConnTrackTable>(_ env: RunEnvironment<T>) {
        let g0 = MonotonicClock.read()
        var o = 0
        let base = buf.baseAddress!
        for s in ring.waiting {
            if s.offset != o { (base + o).update(from: base + s.offset, count: s.count) }
            o += s.count
        }
        ring.relocate(to: 0)
        let n = env.fill(index, UnsafeMutableBufferPointer(rebasing: buf[o..<(o + chunk)]))
        freshOffset = o
        freshStream = bufferEnd
        bufferEnd += n
        if n == 0 { exhausted = true }
        let g = MonotonicClock.read() - g0
        env.workers[index].generationNanos += g
        ring.pause(nanos: g)
    }

    /// The arrivals due by `now`, generating packets as the stream needs
    /// them (dropped packets are part of the stream too); true when it
    /// generated (the clock moved on meanwhile, the arrivals' did not).
    @discardableResult
    func admit<T: ConnTrackTable>(_ env: RunEnvironment<T>, now: Int64) -> Bool {
        let target = min(ring.dueCount(at: now), arrivalLimit)
        var refilled = false
        while ring.arrived < target {
            if ring.arrived == bufferEnd {
                if exhausted { return refilled }
                refill(env)
                refilled = true
                continue
            }
            let n = min(target, bufferEnd) - ring.arrived
            ring.arrive(n, offset: freshOffset + (ring.arrived - freshStream))
        }
        return refilled
    }

    func run<T: ConnTrackTable>(_ env: RunEnvironment<T>, slot: Int, t0: Int64, _ ctx: inout WorkerContext) {
        let worker = env.workers[index]
        let reaper = env.reaper
        let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: env.latencyCapacity)
        defer { latencies.deallocate() }
        ring.pause(nanos: t0 - ring.t0)
        let rate = Int128(ring.rate)
        var lastEnd = t0
        while StopSignal.requested == nil {
            var now = MonotonicClock.read()
            // The batch starts after any generation: its time is not the table's.
            if admit(env, now: now) { now = MonotonicClock.read() }
            if ring.isEmpty {
                if (exhausted && ring.arrived == bufferEnd) || ring.arrived >= arrivalLimit { break }
                // Nothing waits: sleep or spin until the next arrival.
                let next = ring.due(ring.arrived)
                if next - now > Self.sleepBeyondNanos {
                    table(env).workerOffline(slot)
                    OSThread.sleep(nanoseconds: next - now - Self.wakeEarlyNanos)
                    table(env).workerQuiescent(slot)
                }
                repeat { now = MonotonicClock.read() } while now < next
                let late = now - next
                if late > (longest?.nanos ?? 0) {
                    longest = PacedReport.Pause(kind: "late wake-up", worker: index, atSeconds: Double(next - ring.t0) / 1e9,
                                                nanos: late, packets: 0, lockWaitNanos: 0, cpuNanos: 0, reaperPass: nil,
                                                operation: nil, cause: "")
                }
                continue
            }
            let lock0 = Self.lockWait(ctx.stats), cpu0 = threadCPUNanos(), pass0 = reaper.passActivity
            let op0 = env.operationActivity.current
            let taken = now, first = ring.t0
            let count = ring.take(upTo: env.cfg.batch) { s in
                // Packet i arrived at first + ceil(i * 1e9 / rate).
                for i in s.first..<(s.first + s.count) {
                    let due = first &+ Int64((Int128(i) * 1_000_000_000 + rate - 1) / rate)
                    queueing.record(UInt64(max(0, taken - due)))
                }
                env.process(UnsafeBufferPointer(rebasing: buf[s.offset..<(s.offset + s.count)]), worker: worker, slot: slot,
                            latencies: latencies, inlineReaper: false, accountCPU: false, &ctx)
            }
            let end = MonotonicClock.read()
            let nanos = end - taken
            if nanos > (longest?.nanos ?? 0) {
                let pass1 = reaper.passActivity
                // Odd: that pass was running; a change: one started during it.
                let pass: UInt64? = pass0 & 1 == 1 ? pass0 : pass1 != pass0 ? pass1 : nil
                let op1 = env.operationActivity.current
                let op: UInt64? = op0 & 1 == 1 ? op0 : op1 != op0 ? op1 : nil
                longest = PacedReport.Pause(kind: "batch", worker: index, atSeconds: Double(taken - ring.t0) / 1e9, nanos: nanos,
                                            packets: count, lockWaitNanos: Self.lockWait(ctx.stats) - lock0,
                                            cpuNanos: threadCPUNanos() - cpu0, reaperPass: pass.map { Int(($0 + 1) / 2) },
                                            operation: op.map { Int(($0 + 1) / 2) }, cause: "")
            }
            lastEnd = end
        }
        servedNanos = max(0, lastEnd - ring.t0)
    }

    @inline(__always)
    private func table<T: ConnTrackTable>(_ env: RunEnvironment<T>) -> T { env.table }

    static func lockWait(_ s: TableStats) -> Int64 {
        Int64(s.bucketLock.waitNanos &+ s.connLock.waitNanos &+ s.tableLock.waitNanos)
    }

    /// What the readings at one batch boundary cost, ns: the median of
    /// 101 rounds of the clock reads a batch makes.
    static func measureBoundaryCost() -> Double {
        var v: [Int64] = []
        v.reserveCapacity(101)
        for _ in 0..<101 {
            let a = MonotonicClock.read()
            var x = threadCPUNanos()
            x &+= MonotonicClock.read()
            x &+= threadCPUNanos()
            let b = MonotonicClock.read()
            if x == 42 { v.append(0) }
            v.append(b - a)
        }
        v.sort()
        return Double(v[v.count / 2])
    }

    static func report(_ states: [PacedWorker], offered: Int, ring: Int, boundaryCost: Double) -> PacedReport {
        var q = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        for s in states { q.add(s.queueing) }
        var longest: PacedReport.Pause? = nil
        for s in states { if let p = s.longest, p.nanos > (longest?.nanos ?? -1) { longest = p } }
        if var p = longest {
            p.cause = PacedReport.Pause.cause(kind: p.kind, nanos: p.nanos, packets: p.packets, lockWaitNanos: p.lockWaitNanos,
                                              cpuNanos: p.cpuNanos, reaperPass: p.reaperPass, operation: p.operation)
            longest = p
        }
        let seconds = Double(states.map(\.servedNanos).max() ?? 0) / 1e9
        let served = states.reduce(0) { $0 + $1.ring.taken }
        return PacedReport(
            offeredRate: offered, perWorkerRate: states.first?.ring.rate ?? 0, ring: ring,
            arrived: states.reduce(0) { $0 + $1.ring.arrived }, dropped: states.reduce(0) { $0 + $1.ring.dropped },
            highWater: states.map(\.ring.highWater).max() ?? 0,
            perWorkerDropped: states.map(\.ring.dropped), perWorkerHighWater: states.map(\.ring.highWater),
            queueingNanos: q.totalCount > 0
                ? Distribution(count: q.totalCount, p50: Double(q.valueAtPercentile(50)), p99: Double(q.valueAtPercentile(99)),
                               max: Double(q.max), mean: q.mean)
                : Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0),
            seconds: seconds, servedRate: seconds > 0 ? Double(served) / seconds : 0,
            longestPause: longest, boundaryCostNanos: boundaryCost)
    }
}
