import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import Sync
import TestSupport

/// Records every boundary a driver calls it at. It asks for a boundary
/// before each of `dues` (the deterministic driver pauses only there), and
/// stops the run at its `stopAt`-th call.
final class RecordingHook: RunBoundaryHook, @unchecked Sendable {
    /// Written only in `atBoundary` (one thread at a time), read after the run.
    private(set) var boundaries: [RunBoundary] = []
    private var dues: [Int64]
    let stopAt: Int?

    init(dues: [Int64] = [], stopAt: Int? = nil) {
        self.dues = dues.sorted()
        self.stopAt = stopAt
    }

    var dueTime: Int64? { dues.first }

    func atBoundary(_ b: RunBoundary) -> RunBoundary.Verdict {
        boundaries.append(b)
        if let next = b.next { dues.removeAll { $0 <= next } }
        return boundaries.count == stopAt ? .stop : .proceed
    }
}

/// The boundaries each driver promises its hooks. Every expectation
/// follows from the packets' timestamps alone (barrier-ordered decisions),
/// never from timing.
@Suite struct BoundaryHookTests {
    static let ms = Duration_ns.second / 1000

    func config(threads: Int, deterministic: Bool) -> RunConfig {
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: .fixed)
        c.scenario.scenario = .mix
        c.scenario.flows = 500
        c.scenario.packets = 20_000
        c.scenario.duration = 120 * Duration_ns.second
        c.threads = threads
        c.deterministic = deterministic
        c.windowNanos = 100 * Self.ms
        c.chunk = 1024
        c.checkLockOrder = true
        return c
    }

    /// `packets` valid packets of the mix, split into one stream per worker.
    func streams(_ workers: Int, packets: Int = 20_000) -> [[Packet]] {
        var o = ScenarioOptions()
        o.flows = 500; o.packets = packets; o.scenario = .mix; o.duration = 120 * Duration_ns.second
        return (0..<workers).map { w in
            var g = FlowGenerator(o, stream: w, streams: workers)
            var out: [Packet] = []
            while let p = g.next() { out.append(p) }
            return out
        }
    }

    func run(_ c: RunConfig, _ packets: [[Packet]], _ hook: RecordingHook) throws -> RunReport {
        try c.validate()
        return try Runner.run(BucketTable.self, c, packets: packets, hooks: [hook])
    }

    /// Two workers, windows of 100 ms, packets at 50, 150, 350 ms and 60,
    /// 160 ms: windows at 0, 100 and 300 ms (200 holds none and is
    /// skipped), and a pause to refill when worker 1 drains its buffer
    /// inside the window at 100 ms, which goes on after it.
    @Test func lockStepCallsTheHooksAtEveryWindowBoundary() throws {
        let ms = Self.ms
        let base = streams(1, packets: 10)[0]
        func at(_ first: Int, _ times: [Int64]) -> [Packet] {
            zip(base[first...], times).map { p, t in var p = p; p.timestamp = t * ms; return p }
        }
        let hook = RecordingHook()
        let r = try run(config(threads: 2, deterministic: false), [at(0, [50, 150, 350]), at(3, [60, 160])], hook)
        let seen = hook.boundaries.map { [$0.now / ms, $0.next.map { $0 / ms } ?? -1] }
        #expect(seen == [[0, 100], [100, -1], [100, 300], [300, -1]])
        #expect(r.determinism.windows == 2)
        #expect(hook.boundaries.last?.workerStats.packets == 5)
        #expect(r.packets == 5)
    }

    /// A generated 2-worker run with small buffers (many refills): one
    /// boundary per window moved to, each continuing where the previous
    /// left off, the last at the end with every packet processed.
    @Test func lockStepBoundariesFollowTheWindows() throws {
        let packets = streams(2)
        let hook = RecordingHook()
        let r = try run(config(threads: 2, deterministic: false), packets, hook)
        let b = hook.boundaries
        let window = 100 * Self.ms
        #expect(b.filter { $0.next != nil }.count == r.determinism.windows)
        #expect(b.count > r.determinism.windows ?? .max)   // refills and the end
        for (x, y) in zip(b, b.dropFirst()) {
            #expect(y.now == x.next ?? x.now)
            #expect(y.workerStats.packets >= x.workerStats.packets)
            #expect(y.livePeak >= x.livePeak)
        }
        for x in b { if let n = x.next { #expect(n > x.now && n % window == 0) } }
        #expect(b.last?.next == nil)
        #expect(b.last?.workerStats.packets == UInt64(packets.joined().count))
        #expect(r.packets == UInt64(packets.joined().count))
    }

    /// A hook's stop ends a lock-step run at that boundary.
    @Test func lockStepStopsWhereAHookAsks() throws {
        let packets = streams(2)
        let hook = RecordingHook(stopAt: 3)
        let r = try run(config(threads: 2, deterministic: false), packets, hook)
        #expect(hook.boundaries.count == 3)
        #expect(r.packets == hook.boundaries[2].workerStats.packets)
        #expect(r.packets < UInt64(packets.joined().count))
    }

    /// The deterministic driver pauses only before the first packet at or
    /// after each due time, and the pauses leave the report unchanged.
    @Test(.oneThread) func deterministicCallsTheHooksOnlyWhereTheyAsk() throws {
        let packets = streams(1)[0]
        let s = Duration_ns.second
        let dues: [Int64] = [10 * s, 40 * s, 41 * s, 90 * s, 1000 * s]
        let hook = RecordingHook(dues: dues)
        let c = config(threads: 1, deterministic: true)
        let r = try run(c, [packets], hook)
        // Each due time before the last packet: the packet before it and
        // the first at or after it (one pause when two fall in one gap).
        var expected: [[Int64]] = []
        for d in dues {
            guard let k = packets.firstIndex(where: { $0.timestamp >= d }), k > 0 else { continue }
            let pair = [packets[k - 1].timestamp, packets[k].timestamp]
            if expected.last?[1] ?? .min < d { expected.append(pair) }
        }
        #expect(expected.count >= 3)
        #expect(hook.boundaries.map { [$0.now, $0.next ?? -1] } == expected)
        for x in hook.boundaries {
            let done = UInt64(packets.prefix { $0.timestamp < x.next! }.count)
            #expect(x.workerStats.packets == done)
        }
        let plain = try Runner.run(c, packets: [packets])
        #expect(try HarnessTests().deterministicJSON(r) == HarnessTests().deterministicJSON(plain))
    }

    /// A hook's stop ends a deterministic run at that boundary.
    @Test(.oneThread) func deterministicStopsWhereAHookAsks() throws {
        let packets = streams(1)[0]
        let hook = RecordingHook(dues: [30 * Duration_ns.second], stopAt: 1)
        let r = try run(config(threads: 1, deterministic: true), [packets], hook)
        #expect(hook.boundaries.count == 1)
        #expect(r.packets == hook.boundaries[0].workerStats.packets)
        #expect(r.packets < UInt64(packets.count))
    }
}
