import Benchmark
import ConnTrack
#if canImport(Glibc)
import Glibc
#endif
import FlowGen
import Harness
import Sync

func tuple(_ i: Int) -> TupleID {
    TupleID(srcAddr: IPAddress(v4: 0x0a00_0000 | UInt32(i)), srcPort: UInt16(truncatingIfNeeded: 1024 + i),
            dstAddr: IPAddress(v4: 0xac10_0001), dstPort: 443, transProto: .tcp, netProto: .ipv4)
}

func syn(_ id: TupleID) -> Packet {
    Packet(id: id, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output)
}

/// A million distinct tuples need more than 16 bits of port: the source
/// address carries the index.
func wideTuple(_ i: Int) -> TupleID {
    TupleID(srcAddr: IPAddress(v4: 0x0a00_0000 | UInt32(i)), srcPort: UInt16(truncatingIfNeeded: 1024 + i % 50_000),
            dstAddr: IPAddress(v4: 0xac10_0001), dstPort: 443, transProto: .tcp, netProto: .ipv4)
}

/// A table of a registered design with `flows` established-looking flows
/// inserted, and one ACK per flow to replay through `processBatch`.
func loaded(_ e: DesignEntry, flows: Int, buckets: Int = 16384) -> (any ConnTrackTable, [Packet]) {
    let t = e.design.init(TableConfig(buckets: buckets, hashSeed: e.traits.hashSeed(1), variant: e.variant))
    var ctx = WorkerContext(name: "setup", checkLockOrder: false)
    let ids = (0..<flows).map(tuple)
    for id in ids { _ = t.handlePacket(syn(id), clock: VirtualClock(0), &ctx) }
    return (t, ids.map { Packet(id: $0, tcp: TCPSegment(flags: .ack, seq: 2, ack: 1), hook: .output, timestamp: 1) })
}

/// Runs `packets` through the worker loop the harness uses
/// (`processBatch`, specialised per design and clock).
func replay(_ t: any ConnTrackTable, _ packets: UnsafeBufferPointer<Packet>, latencies: UnsafeMutableBufferPointer<UInt64>,
            _ ctx: inout WorkerContext) {
    var b = PacketBatch(packets: packets, clock: .virtual, sampleEvery: 1 << 30, latencies: latencies)
    b.next(size: packets.count, upTo: packets.count)
    t.processBatch(&b, &ctx)
}

/// Times `processBatch` over 64 packets of 4096 existing flows.
func packetPath(_ b: Benchmark, _ e: DesignEntry, checkLockOrder: Bool) {
    let (t, packets) = loaded(e, flows: 4096)
    var ctx = WorkerContext(name: "bench", checkLockOrder: checkLockOrder)
    let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 4)
    defer { latencies.deallocate() }
    packets.prefix(64).withUnsafeBufferPointer { batch in
        b.startMeasurement()
        for _ in b.scaledIterations { replay(t, batch, latencies: latencies, &ctx) }
        b.stopMeasurement()
    }
    blackHole(ctx.stats.packets)
}

/// A table whose single bucket holds `length` tuples; returns the tuple at
/// the far end of the chain.
func chain(_ length: Int, variant: Variant) -> (BucketTable, TupleID) {
    let t = BucketTable(TableConfig(buckets: 1, hashSeed: 1, variant: variant))
    precondition(BucketTable.traits.variants.contains(variant))
    var ctx = WorkerContext(name: "setup", checkLockOrder: false)
    let conns = max(1, length / 2)
    for i in 0..<conns { _ = t.handlePacket(syn(tuple(i)), clock: VirtualClock(0), &ctx) }
    // Push-front: the first connection's original tuple is deepest.
    return (t, length == 1 ? tuple(0).reversed : tuple(0))
}

/// CONNTRACK_BENCH_CI=1: only allocation counts, which are exact and
/// machine-independent, so CI can check them against Thresholds/.
let ciMode = getenv("CONNTRACK_BENCH_CI") != nil

// Names use "." not "/": package-benchmark 1.38.1 writes thresholds files
// with "/" replaced but looks them up with it.
let benchmarks: @Sendable () -> Void = {
    let fast = ciMode
        ? Benchmark.Configuration(metrics: [.mallocCountTotal], warmupIterations: 1, scalingFactor: .kilo,
                                  maxDuration: .seconds(1), maxIterations: 10,
                                  thresholds: [.mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 0])])
        : Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
                                  warmupIterations: 3, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 200)

    let ids = (0..<1024).map(tuple)
    Benchmark("hash.jenkins-seed", configuration: fast) { b in
        var acc: UInt32 = 0
        for _ in b.scaledIterations { for id in ids { acc &+= JenkinsHash.hash(id, seed: 0x1234) } }
        blackHole(acc)
    }
    Benchmark("hash.swift-hasher", configuration: fast) { b in
        var acc = 0
        for _ in b.scaledIterations { for id in ids { acc &+= id.hashValue } }
        blackHole(acc)
    }

    for v in Variant.allCases {
        for length in [1, 4, 16, 64] {
            Benchmark("lookup-hit.\(v.rawValue).chain-\(length)", configuration: fast) { b in
                let (t, id) = chain(length, variant: v)
                var ctx = WorkerContext(name: "bench", checkLockOrder: false)
                b.startMeasurement()
                for _ in b.scaledIterations { blackHole(t.lookup(id, now: 0, &ctx) != nil) }
            }
            Benchmark("lookup-miss.\(v.rawValue).chain-\(length)", configuration: fast) { b in
                let (t, _) = chain(length, variant: v)
                var ctx = WorkerContext(name: "bench", checkLockOrder: false)
                let missing = tuple(1_000_000)
                b.startMeasurement()
                for _ in b.scaledIterations { blackHole(t.lookup(missing, now: 0, &ctx) != nil) }
            }
        }
        Benchmark("insert.\(v.rawValue)", configuration: fast) { b in
            let t = BucketTable(TableConfig(buckets: 1 << 16, hashSeed: 1, variant: v))
            var ctx = WorkerContext(name: "bench", checkLockOrder: false)
            var i = 0
            b.startMeasurement()
            for _ in b.scaledIterations { _ = t.handlePacket(syn(tuple(i)), clock: VirtualClock(0), &ctx); i += 1 }
        }
    }

    // The packet path for existing connections, for every registered design
    // and variant, through the harness's own batch loop: 64 packets per
    // iteration (ns/packet = time / 64). Must not allocate.
    for e in TableDesigns.entries {
        Benchmark("packet-path.\(e.label).existing", configuration: fast) { b in
            packetPath(b, e, checkLockOrder: false)
        }
    }

    // The rank checker: zero cost when disabled (compare the two).
    for check in [false, true] {
        Benchmark("packet-path.fixed.lock-check-\(check ? "on" : "off")", configuration: fast) { b in
            packetPath(b, DesignEntry(design: BucketTable.self, variant: .fixed), checkLockOrder: check)
        }
    }

    // `fast`: a new connection allocates nothing. The pool is grown and its
    // entries recycled before the measurement, so what is measured is the
    // steady state: an entry from the worker's cache, refilled from the
    // recycled list.
    Benchmark("insert.fast.new-connection", configuration: fast) { b in
        var c = TableConfig(buckets: 1024, hashSeed: 1)
        c.expectedConnections = 1 << 18
        let t = FastTable(c)
        var ctx = WorkerContext(name: "bench", checkLockOrder: false)
        let slot = t.registerWorker()
        let warm = 1 << 17
        for i in 0..<warm { _ = t.handlePacket(syn(tuple(i)), clock: VirtualClock(0), &ctx) }
        _ = t.reapPass(start: 0, maxSlots: t.sweepSlots, maxEvictions: .max, now: 1_000 * 1_000_000_000, &ctx)
        t.workerQuiescent(slot)
        t.reclaim(&ctx)
        var i = warm
        b.startMeasurement()
        for _ in b.scaledIterations {
            _ = t.handlePacket(syn(tuple(i)), clock: VirtualClock(1_000 * 1_000_000_000), &ctx)
            i += 1
        }
        b.stopMeasurement()
        blackHole(ctx.stats.created)
    }

    // Generating packets, per packet (time / 1000 per iteration): today's
    // scenario generator, and a workload's, one worker's stream of two,
    // warmed up until its flow population is at its level (so what is
    // measured is the steady state). Must not allocate.
    for (name, spec, warm) in [("syn-flood", "syn-flood", 20.0), ("mobile-gateway", "mobile-gateway", 12.0)] {
        Benchmark("generate.workload.\(name)", configuration: fast) { b in
            let w = try Workload.load(spec)
            var g = WorkloadGenerator(w, seed: 1, stream: 0, streams: 2)
            while let p = g.next(), p.timestamp < Int64(warm * 1e9) {}
            b.startMeasurement()
            for _ in b.scaledIterations { blackHole(g.next()) }
            b.stopMeasurement()
        }
    }
    for (name, scenario, flows) in [("mix", ScenarioKind.mix, 100_000), ("steady-1m", .steady, 1_000_000)] {
        Benchmark("generate.scenario.\(name)", configuration: fast) { b in
            var o = ScenarioOptions()
            o.scenario = scenario
            o.flows = flows
            o.packets = 1 << 40
            var g = FlowGenerator(o, stream: 0, streams: 2)
            for _ in 0..<2_000_000 { blackHole(g.next()) }
            b.startMeasurement()
            for _ in b.scaledIterations { blackHole(g.next()) }
            b.stopMeasurement()
        }
    }

    if ciMode { return }

    // `fast` at a million flows, against this machine's memory latency
    // (memory.* below): 4096 established flows picked at random per
    // iteration, so nearly every lookup misses the caches; batch 1 looks
    // each packet up alone, batch 16 hashes and prefetches 16 at a time.
    // ns per lookup = time / 4096.
    for batch in [1, 16] {
        Benchmark("fast.lookup-1m-flows.batch-\(batch)",
                  configuration: .init(metrics: [.wallClock, .mallocCountTotal, .instructions], warmupIterations: 2,
                                       maxDuration: .seconds(3), maxIterations: 200)) { b in
            let flows = 1 << 20
            var c = TableConfig(buckets: 16384, hashSeed: 1)
            c.expectedConnections = flows
            c.lookupBatch = batch
            let t = FastTable(c)
            var ctx = WorkerContext(name: "bench", checkLockOrder: false)
            for i in 0..<flows { _ = t.handlePacket(syn(wideTuple(i)), clock: VirtualClock(0), &ctx) }
            var rng = SplitMix64(seed: 7)
            let packets = (0..<(1 << 16)).map { _ in
                Packet(id: wideTuple(Int(rng.next() % UInt64(flows))), tcp: TCPSegment(flags: .syn, seq: 1), hook: .output, timestamp: 1)
            }
            let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 4)
            defer { latencies.deallocate() }
            var offset = 0
            packets.withUnsafeBufferPointer { all in
                b.startMeasurement()
                for _ in b.scaledIterations {
                    replay(t, UnsafeBufferPointer(rebasing: all[offset..<offset + 4096]), latencies: latencies, &ctx)
                    offset = (offset + 4096) % all.count
                }
                b.stopMeasurement()
            }
            blackHole(ctx.stats.found)
        }
    }

    // The memory-latency limit of this machine, which bounds any table's
    // lookup at a million flows (results/notes/memory-latency.md): 1 M loads per
    // iteration over 1 GiB, each load a cache line picked at random.
    // Dependent: each address comes from the previous load (one DRAM miss
    // after another); independent: 16 such chains interleaved (the misses
    // overlap, as a batched lookup's prefetches can). ns/load = time / 1 M.
    for (name, huge) in [("4k-pages", false), ("huge-pages", true)] {
        Benchmark("memory.dependent-miss.\(name)", configuration: .init(metrics: [.wallClock], warmupIterations: 1,
                                                                         scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 20)) { b in
            let chase = ChaseBuffer.shared(hugePages: huge)
            b.startMeasurement()
            for _ in b.scaledIterations { blackHole(chase.dependent(loads: 1 << 20)) }
        }
        Benchmark("memory.independent-misses-16.\(name)", configuration: .init(metrics: [.wallClock], warmupIterations: 1,
                                                                                scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 20)) { b in
            let chase = ChaseBuffer.shared(hugePages: huge)
            b.startMeasurement()
            for _ in b.scaledIterations { blackHole(chase.independent(loads: 1 << 20)) }
        }
    }

    // The CPU accounting the harness does once per window and chunk (two
    // CLOCK_MONOTONIC and two CLOCK_THREAD_CPUTIME_ID reads), against the
    // table work of one 2-worker default-run window (830 packets per worker)
    // and of a sparse one (25 packets): results/notes/accounting-cost.md.
    Benchmark("accounting.per-window-reads", configuration: .init(metrics: [.wallClock], warmupIterations: 3,
                                                                    scalingFactor: .kilo, maxDuration: .seconds(2))) { b in
        var acc: Int64 = 0
        for _ in b.scaledIterations {
            let t0 = monotonicNanos(), c0 = threadCPUNanos()
            acc &+= monotonicNanos() - t0 + threadCPUNanos() - c0
        }
        blackHole(acc)
    }
    for n in [25, 830] {
        Benchmark("accounting.window-of-\(n).fixed", configuration: .init(metrics: [.wallClock], warmupIterations: 3,
                                                                         maxDuration: .seconds(2))) { b in
            let (t, packets) = loaded(DesignEntry(design: BucketTable.self, variant: .fixed), flows: 100_000, buckets: 65536)
            var ctx = WorkerContext(name: "bench", checkLockOrder: false)
            let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n / 64 + 2)
            defer { latencies.deallocate() }
            var offset = 0
            b.startMeasurement()
            for _ in b.scaledIterations {
                packets[offset..<offset + n].withUnsafeBufferPointer { replay(t, $0, latencies: latencies, &ctx) }
                offset = (offset + n) % (packets.count - n)
            }
            b.stopMeasurement()
        }
    }

    // One reaper pass at several fractions (buckets per pass = 16384 /
    // fraction) and expired ratios, over a 16384-bucket table of 65536
    // connections.
    for fraction in [16, 128, 1024] {
        for expiredPct in [0, 50, 100] {
            Benchmark("reaper-pass.fixed.fraction-\(fraction).expired-\(expiredPct)pct",
                      configuration: .init(metrics: [.wallClock, .mallocCountTotal], warmupIterations: 1,
                                           maxDuration: .seconds(2), maxIterations: 30)) { b in
                let t = BucketTable(TableConfig(buckets: 16384, hashSeed: 1, variant: .fixed))
                var ctx = WorkerContext(name: "bench", checkLockOrder: false)
                for i in 0..<65536 {
                    let stale = i % 100 < expiredPct
                    _ = t.handlePacket(syn(tuple(i)), clock: VirtualClock(stale ? 0 : 1_000 * 1_000_000_000), &ctx)
                }
                b.startMeasurement()
                blackHole(t.reapPass(start: 0, maxSlots: 16384 / fraction, now: 1_000 * 1_000_000_000, &ctx))
                // Tearing the table down is not part of the pass.
                b.stopMeasurement()
            }
        }
    }

    // `fast`'s memory per connection at a million connections: pool
    // segments plus the index buckets in use (both mapped), over
    // connections (results/notes/replay-and-scaling.md#memory-per-connection);
    // with and without --ipv4-only.
    for ipv4Only in [false, true] {
        let name = ipv4Only ? "memory.fast.ipv4-only.per-connection-at-1m" : "memory.fast.per-connection-at-1m"
        Benchmark(name, configuration: .init(metrics: [.mallocBytesCount], warmupIterations: 0, maxIterations: 1)) { b in
            var c = TableConfig(buckets: 16384, hashSeed: 1)
            c.expectedConnections = 1 << 20
            c.ipv4Only = ipv4Only
            let t = FastTable(c)
            var ctx = WorkerContext(name: "bench", checkLockOrder: false)
            for i in 0..<(1 << 20) { _ = t.handlePacket(syn(wideTuple(i)), clock: VirtualClock(0), &ctx) }
            let f = t.layoutFigures
            let mapped = t.inspect().mappedBytes
            let index = mapped - f.entryBytes
            let n = t.inspect().connections
            let line = "\(name): \(n) connections, entries \(f.entryBytes) B, index in use \(index) B (\(f.homeBuckets) home + \(f.overflowUsed) overflow buckets): \(mapped / n) B per connection (entry \(f.entryBytes / n) B, index \(index / n) B)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }

    // Memory per connection: bytes allocated to insert 1000 connections.
    Benchmark("memory.per-1000-connections",
              configuration: .init(metrics: [.mallocBytesCount, .mallocCountTotal], warmupIterations: 0, maxIterations: 5)) { b in
        let t = BucketTable(TableConfig(buckets: 1 << 16, hashSeed: 1, variant: .fixed))
        var ctx = WorkerContext(name: "bench", checkLockOrder: false)
        let packets = (0..<1000).map { syn(tuple($0)) }
        b.startMeasurement()
        for p in packets { _ = t.handlePacket(p, clock: VirtualClock(0), &ctx) }
        b.stopMeasurement()
        blackHole(t)
    }

    // Multi-worker throughput through the harness, for every registered
    // design and variant (steady, 100 k flows).
    for e in TableDesigns.entries {
        for threads in [1, 2] {
            Benchmark("harness.steady.\(e.label).\(threads)-workers",
                      configuration: .init(metrics: [.wallClock, .throughput], warmupIterations: 0, maxDuration: .seconds(5), maxIterations: 3)) { b in
                var c = RunConfig()
                c.design = e.traits.name
                c.table = TableConfig(buckets: 65536, hashSeed: e.traits.hashSeed(1), variant: e.variant)
                c.scenario.scenario = .steady
                c.scenario.flows = 100_000
                c.scenario.packets = 2_000_000
                c.threads = threads
                c.checkLockOrder = false
                blackHole(try Runner.run(c).packetsPerSecond)
            }
        }
    }
}
