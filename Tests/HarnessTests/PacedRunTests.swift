import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import TestSupport

/// The receive ring's arithmetic, on a fake clock: what a poll computes at
/// a batch boundary must be what a ring filled one packet at a time holds.
@Suite(.oneThread) struct ReceiveRingTests {
    @Test func arrivalsFollowTheRate() {
        let r = ReceiveRing(capacity: 4, rate: 1000, t0: 5_000)
        #expect(r.dueCount(at: 4_999) == 0)
        #expect(r.dueCount(at: 5_000) == 1)
        #expect(r.dueCount(at: 5_000 + 999_999) == 1)
        #expect(r.dueCount(at: 5_000 + 1_000_000) == 2)
        #expect(r.due(0) == 5_000 && r.due(3) == 5_000 + 3_000_000)
    }

    /// Packet i is due at t0 + ceil(i * 1e9 / rate): `dueCount` counts
    /// exactly the packets due by a time, for rates that do not divide 1e9.
    @Test(arguments: [1, 3, 7, 999_983, 1_000_000_000])
    func dueAndDueCountAgree(_ rate: Int) {
        let r = ReceiveRing(capacity: 1, rate: rate, t0: 123)
        for i in [0, 1, 2, 5, 1_000, 123_457, 10_000_000] {
            let d = r.due(i)
            #expect(r.dueCount(at: d) >= i + 1, "rate \(rate), packet \(i)")
            #expect(r.dueCount(at: d - 1) <= i, "rate \(rate), packet \(i)")
        }
    }

    @Test func aFullRingDropsTheTailAndKeepsOrder() {
        var r = ReceiveRing(capacity: 4, rate: 1000, t0: 0)
        #expect(r.arrive(10, offset: 0) == 4)
        #expect(r.dropped == 6 && r.highWater == 4 && r.occupancy == 4)
        var got: [ReceiveRing.Segment] = []
        #expect(r.take(upTo: 3) { got.append($0) } == 3)
        #expect(got == [.init(first: 0, count: 3, offset: 0)])
        // Packets 10...14 arrive, placed from offset 10: one descriptor
        // holds packet 3, so three are accepted.
        #expect(r.arrive(5, offset: 10) == 3)
        #expect(r.dropped == 8)
        got = []
        #expect(r.take(upTo: 100) { got.append($0) } == 4)
        #expect(got == [.init(first: 3, count: 1, offset: 3), .init(first: 10, count: 3, offset: 10)])
        #expect(r.isEmpty && r.taken == 7 && r.arrived == 15)
    }

    @Test func relocatingKeepsTheOrderAndPausingDelaysArrivals() {
        var r = ReceiveRing(capacity: 8, rate: 1000, t0: 0)
        r.arrive(3, offset: 100)
        r.arrive(2, offset: 200)
        r.relocate(to: 0)
        #expect(Array(r.waiting) == [.init(first: 0, count: 3, offset: 0), .init(first: 3, count: 2, offset: 3)])
        r.pause(nanos: 500)
        #expect(r.due(5) == 5_000_000 + 500)
        #expect(r.dueCount(at: 5_000_499) == 5 && r.dueCount(at: 5_000_500) == 6)
    }

    /// Against a packet-by-packet ring: a worker that polls at its batch
    /// boundaries, takes up to `batch` packets and serves them in a time
    /// that varies (long pauses included), on a fake clock. Every packet's
    /// fate (dropped or taken, and when) and the high-water mark agree.
    @Test(arguments: [(capacity: 16, rate: 1_000_000, batch: 8, seed: 1 as UInt64),
                      (capacity: 1024, rate: 3_000_000, batch: 32, seed: 2),
                      (capacity: 1, rate: 10_000, batch: 1, seed: 3),
                      (capacity: 64, rate: 777_777, batch: 256, seed: 4)])
    func pollingEqualsAPacketByPacketRing(_ p: (capacity: Int, rate: Int, batch: Int, seed: UInt64)) {
        let total = 50_000
        var rng = SplitMix64(seed: p.seed)
        var ring = ReceiveRing(capacity: p.capacity, rate: p.rate, t0: 0)
        var now: Int64 = 0
        var takenAt = [Int64](repeating: -1, count: total)
        while ring.arrived < total || !ring.isEmpty {
            let n = min(ring.dueCount(at: now), total) - ring.arrived
            ring.arrive(n, offset: ring.arrived)
            if ring.isEmpty {
                now = ring.due(ring.arrived)
                continue
            }
            let t = now
            let k = ring.take(upTo: p.batch) { s in
                #expect(s.offset == s.first)
                for i in s.first..<(s.first + s.count) { takenAt[i] = t }
            }
            // Service: 100 ns to 3 µs a packet, and now and then a pause
            // of up to 2 ms.
            now += Int64(k) * Int64(100 + rng.next() % 2_900) + (rng.next() % 97 == 0 ? Int64(rng.next() % 2_000_000) : 0)
        }
        // The reference: packets arrive one at a time in due order; the
        // ring is drained at the same instants by the same amounts.
        var times: [(at: Int64, take: Int)] = []
        var seen = Set<Int64>()
        for i in 0..<total where takenAt[i] >= 0 && seen.insert(takenAt[i]).inserted { times.append((takenAt[i], 0)) }
        var counts: [Int64: Int] = [:]
        for t in takenAt where t >= 0 { counts[t, default: 0] += 1 }
        times = times.map { ($0.at, counts[$0.at]!) }.sorted { $0.at < $1.at }
        var queue: [Int] = [], expectedTaken = [Int64](repeating: -1, count: total)
        var dropped = 0, high = 0, next = 0
        for (at, take) in times {
            while next < total && ring.due(next) <= at {
                if queue.count == p.capacity { dropped += 1 } else { queue.append(next) }
                high = max(high, queue.count)
                next += 1
            }
            for i in queue.prefix(take) { expectedTaken[i] = at }
            queue.removeFirst(min(take, queue.count))
        }
        dropped += total - next  // arrivals after the last take were never polled: none here
        #expect(takenAt == expectedTaken)
        #expect(ring.dropped == dropped)
        #expect(ring.highWater == high)
        #expect(ring.taken + ring.dropped == total)
    }
}

/// Paced runs of every design: every packet arrives once, is dropped or
/// reaches the table, and the table is sound after the reaper ran beside
/// two workers.
@Suite struct PacedRunTests {
    @Test(arguments: TableDesigns.names)
    func everyPacketIsDroppedOrProcessed(_ design: String) throws {
        var c = RunConfig()
        c.design = design
        let traits = try #require(TableDesigns.named(design)).traits
        c.table = TableConfig(buckets: 512, hashSeed: traits.hasHashSeed ? 42 : nil)
        // Each design's own reaper schedule.
        switch traits.defaultPolicy {
        case "linux2022": c.policy = .linux2022(Linux2022ReaperPolicy())
        case "ovs": c.policy = .ovs(OVSReaperPolicy())
        default: c.policy = .seed(SeedReaperPolicy())
        }
        c.scenario.scenario = .mix
        c.scenario.flows = 1000
        c.scenario.packets = 12_000
        c.scenario.duration = 600 * Duration_ns.second
        c.threads = 2
        c.chunk = 4096
        c.reaperStartDelay = 0
        c.checkLockOrder = true
        // Far beyond what any design serves, into rings of 8: drops are
        // certain, and so are chunk refills with packets waiting.
        c.pacing = Pacing(rate: 200_000_000, ring: 8)
        // Operations alongside: a dump now and then and a flush.
        c.operations = [try OperationSpec.parse("dump@every:120"), try OperationSpec.parse("flush@300")]
        try c.validate()
        let r = try Runner.run(c)
        let p = try #require(r.paced)
        #expect(p.arrived == 12_000)
        #expect(UInt64(p.arrived - p.dropped) == r.packets)
        #expect(p.perWorkerDropped.reduce(0, +) == p.dropped)
        #expect(p.dropped > 0)
        #expect(p.highWater <= 8)
        #expect(p.queueingNanos.count == r.packets)
        #expect(p.longestPause != nil)
        #expect(r.invariants.ok, "\(r.invariants)")
        #expect(r.lockOrderViolations.isEmpty)
        #expect(r.operations != nil)
    }

    /// A pause is named by what explains most of it, in the documented order.
    @Test(.oneThread) func aPauseIsNamedByItsCause() {
        typealias P = PacedReport.Pause
        let ms = 1_000_000 as Int64
        #expect(P.cause(kind: "batch", nanos: 10 * ms, packets: 5, lockWaitNanos: 0, cpuNanos: 2 * ms, reaperPass: 3, operation: 1)
            .hasPrefix("the worker was descheduled"))
        #expect(P.cause(kind: "batch", nanos: 10 * ms, packets: 5, lockWaitNanos: 6 * ms, cpuNanos: 10 * ms, reaperPass: nil, operation: 2)
            .hasPrefix("lock waits: 6.000 ms of it while operation 2"))
        #expect(P.cause(kind: "batch", nanos: 10 * ms, packets: 5, lockWaitNanos: 0, cpuNanos: 10 * ms, reaperPass: 4, operation: 2)
            .hasPrefix("operation 2 (--op) ran alongside, as did reaper pass 4"))
        #expect(P.cause(kind: "batch", nanos: 10 * ms, packets: 5, lockWaitNanos: 0, cpuNanos: 10 * ms, reaperPass: 4, operation: nil)
            .hasPrefix("reaper pass 4 ran alongside"))
        #expect(P.cause(kind: "batch", nanos: 10 * ms, packets: 5, lockWaitNanos: 0, cpuNanos: 10 * ms, reaperPass: nil, operation: nil)
            .hasPrefix("the table's own work on 5 packets"))
        #expect(P.cause(kind: "late wake-up", nanos: 10 * ms, packets: 0, lockWaitNanos: 0, cpuNanos: 0, reaperPass: nil)
            .hasPrefix("the worker woke 10.000 ms after"))
    }
}

/// The lossless-rate search, on a fake table of trials: a trial passes
/// below a threshold rate, so the search must land within the resolution
/// under it, keep the lowest of several searches, and name the lowest
/// failing trial.
@Suite(.oneThread) struct LosslessSearchTests {
    @Test(arguments: [(threshold: 123_456, resolution: 0.01), (threshold: 9_000, resolution: 0.005), (threshold: 700_000, resolution: 0.05)])
    func theSearchFindsTheThreshold(_ p: (threshold: Int, resolution: Double)) throws {
        var c = RunConfig()
        c.threads = 1
        c.scenario.packets = 10_000
        var s = LosslessSearch.Settings()
        s.trialSeconds = 1
        s.resolution = p.resolution
        s.searches = 3
        var search = 0
        var rates: [Int] = []
        let r = try LosslessSearch.run(c, s, ring: 64, trial: { cfg in
            guard let pacing = cfg.pacing else { return Self.report(rate: nil, fullSpeed: 1_000_000) }
            if pacing.rate == 1_000_000 { search += 1 }
            rates.append(pacing.rate)
            // The third search's table is 1 % slower.
            let threshold = search == 3 ? p.threshold * 99 / 100 : p.threshold
            return Self.report(rate: pacing.rate, drops: pacing.rate > threshold ? 5 : 0)
        })
        #expect(r.meanCostRate == 1_000_000)
        #expect(r.searchResults.count == 3 && r.trials.count == 3)
        let slow = p.threshold * 99 / 100
        #expect(r.losslessRate == r.searchResults.min())
        #expect(r.losslessRate <= slow && Double(slow - r.losslessRate) <= p.resolution * Double(r.firstDrops!.rate) + 1)
        #expect(r.firstDrops!.rate > slow && !r.firstDrops!.passed)
        #expect(r.trials[2].allSatisfy { $0.passed == ($0.rate <= slow) })
    }

    /// A small real run, made once, that the fake trials dress up.
    static let base = try! MetricCatalogueTests.report()

    /// A report as a paced trial (or, with no rate, the full-speed run) gives it.
    static func report(rate: Int?, drops: Int = 0, fullSpeed: Double = 0) -> RunReport {
        var r = base
        r.packetsPerSecond = fullSpeed
        r.threads = 1
        if let rate {
            r.paced = PacedReport(offeredRate: rate, perWorkerRate: rate, ring: 64, arrived: rate, dropped: drops, highWater: 0,
                                  perWorkerDropped: [drops], perWorkerHighWater: [0],
                                  queueingNanos: Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0), seconds: 1,
                                  servedRate: Double(rate), longestPause: nil, boundaryCostNanos: nil)
        }
        return r
    }
}
