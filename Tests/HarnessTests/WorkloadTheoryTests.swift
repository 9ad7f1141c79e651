import Testing
@testable import ConnTrack
@testable import FlowGen
import TestSupport

/// The workload generator against theory: each check states its tolerance,
/// wide enough for the fixed seed's sampling error and narrow enough that
/// a wrong rate, lifetime, weight or share fails it.
@Suite(.oneThread) struct WorkloadTheoryTests {
    static let second: Int64 = 1_000_000_000

    static func workload(_ t: Workload.Traffic, phases: [(Double, Double)]) -> Workload {
        Workload(name: "theory", summary: "", components: [.init(name: "c", kind: .traffic(t))],
                 phases: phases.enumerated().map { i, p in
                     Workload.Phase(name: "p\(i)", duration: Int64(p.0 * 1e9), factors: [p.1])
                 })
    }

    /// Little's law: Poisson arrivals at λ whose flows last W on average
    /// keep λW flows alive. λ = 2000/s, exponential lifetimes of mean 5 s
    /// (each flow then closes in two round trips of 1 ms): W = 5.002 s,
    /// λW = 10,004. The time average from 30 s to 50 s (after a warm-up of
    /// six mean lifetimes, and before the run's end stops flows early) must
    /// be within 3 % (its standard error here is under 0.5 %).
    @Test func liveFlowsFollowLittlesLaw() {
        var t = Workload.Traffic(rate: 2000)
        t.lifetime = .exponential(mean: 5)
        t.size = .constant(8)
        t.endings = Self.endings(finClient: 1)
        var g = WorkloadGenerator(Self.workload(t, phases: [(60, 1)]), seed: 11)
        var samples: [Int] = []
        var next = 30 * Self.second
        while let p = g.next() {
            while p.timestamp >= next && next < 50 * Self.second {
                samples.append(g.liveFlows)
                next += Self.second / 4
            }
        }
        let mean = Double(samples.reduce(0, +)) / Double(samples.count)
        let expected = 2000 * 5.002
        #expect(samples.count == 80)
        #expect(abs(mean - expected) / expected < 0.03, "mean live \(mean), Little's law \(expected)")
    }

    /// Poisson arrivals: the count over 60 s at 1000/s is within 4 σ
    /// (σ = √60000 ≈ 245) of 60,000, and the gaps' coefficient of variation
    /// is within 3 % of an exponential's 1. Constant arrivals: exactly one
    /// per 1/rate.
    @Test func arrivalsComeAtTheRateAndInTheProcessAsked() {
        for process in [Workload.ArrivalProcess.poisson, .constant] {
            var t = Workload.Traffic(rate: 1000)
            t.process = process
            t.lifetime = .constant(0.01)
            t.size = .constant(1)
            t.tcp = 0; t.udp = 1
            var g = WorkloadGenerator(Self.workload(t, phases: [(60, 1)]), seed: 5)
            var times: [Int64] = []
            while let p = g.next() { times.append(p.timestamp) }
            #expect(g.stats.started[0] == times.count, "one packet per flow")
            let n = Double(times.count)
            let gaps = zip(times.dropFirst(), times).map { Double($0 - $1) }
            let mean = gaps.reduce(0, +) / Double(gaps.count)
            let sd = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count - 1)).squareRoot()
            if process == .poisson {
                #expect(abs(n - 60_000) < 4 * 245, "\(n) arrivals")
                #expect(abs(sd / mean - 1) < 0.03, "gaps' coefficient of variation \(sd / mean)")
            } else {
                #expect(abs(n - 60_000) <= 1, "\(n) arrivals")
                #expect(sd / mean < 1e-3, "constant gaps vary: \(sd / mean)")
            }
        }
    }

    /// Zipf popularity: a flow of rank r carries w_r · R / Σw times the
    /// size drawn, w_r = r^−s. With UDP flows (which send exactly their
    /// size) of exponential size (mean 50), ranks in turn (1,000 flows
    /// each over 20 ranks), the packets of rank r are a sum of 1,000
    /// independent draws: mean 1000 · 50 f_r, variance 1000 · (50 f_r)².
    /// Σ (O − E)² / Var over the 20 ranks is then χ² with 20 degrees of
    /// freedom; its 99.9th percentile is 45.3.
    @Test func zipfRanksCarryTheirExpectedShares() {
        let ranks = 20, s = 1.0
        var t = Workload.Traffic(rate: 1000)
        t.popularity = .zipf(s: s, ranks: ranks)
        t.size = .exponential(mean: 50)
        t.lifetime = .constant(0.5)
        t.tcp = 0; t.udp = 1
        // 20 s of arrivals, then 5 s for the last flows to finish.
        var g = WorkloadGenerator(Self.workload(t, phases: [(20, 1), (5, 0)]), seed: 3)
        while g.next() != nil {}
        let flows = g.stats.started[0]
        #expect(abs(flows - 20_000) < 4 * 142, "\(flows) flows")
        let z = (1...ranks).reduce(0.0) { $0 + 1 / power(Double($1), s) }
        var chi2 = 0.0
        for r in 1...ranks {
            let n = Double(flows / ranks + (r <= flows % ranks ? 1 : 0))
            let f = 1 / power(Double(r), s) * Double(ranks) / z
            let expected = n * 50 * f, variance = n * (50 * f) * (50 * f)
            let observed = Double(g.stats.packetsByRank[r - 1])
            chi2 += (observed - expected) * (observed - expected) / variance
        }
        #expect(chi2 < 45.3, "chi-square \(chi2) over \(ranks) ranks")
    }

    /// Endings: over 100,000 TCP flows each share is within 4 binomial σ
    /// of what was asked, and the packets show them: one RST per reset
    /// flow, two FINs per closed one, no third ACK after a half-open
    /// handshake.
    @Test func endingsComeInTheSharesAsked() {
        var t = Workload.Traffic(rate: 10_000)
        t.endings = Self.endings(finClient: 0.4, finServer: 0.25, rst: 0.15, halfOpen: 0.12, idle: 0.08)
        t.lifetime = .constant(0.2)
        t.size = .constant(8)
        var g = WorkloadGenerator(Self.workload(t, phases: [(10, 1), (2, 0)]), seed: 9)
        var rst = 0, fin = 0, synAck = 0
        while let p = g.next() {
            let f = p.tcp.flags
            if f.contains(.rst) { rst += 1 }
            if f.contains(.fin) { fin += 1 }
            if f.contains(.syn) && f.contains(.ack) { synAck += 1 }
        }
        let e = g.stats.endings
        let n = Double(e.reduce(0, +))
        #expect(abs(n - 100_000) < 4 * 317, "\(n) flows")
        for (k, share) in [0.4, 0.25, 0.15, 0.12, 0.08].enumerated() {
            let sigma = (n * share * (1 - share)).squareRoot()
            #expect(abs(Double(e[k]) - n * share) < 4 * sigma, "ending \(k): \(e[k]) of \(Int(n)), asked \(share)")
        }
        #expect(rst == e[2], "one RST per reset flow")
        #expect(fin == 2 * (e[0] + e[1]), "two FINs per closed flow")
        #expect(synAck == Int(n), "every flow is answered")
        #expect(g.stats.started[0] == Int(n))
    }

    /// A ramp from factor 0 to 4 over a phase: arrivals grow linearly, so
    /// the second half of the phase has three times the first's (within
    /// 5 %); an on-off process sends nothing in its off periods.
    @Test func rampsAndOnOffPeriodsShapeTheArrivals() {
        var t = Workload.Traffic(rate: 1000)
        t.lifetime = .constant(0.001)
        t.size = .constant(1)
        t.tcp = 0; t.udp = 1
        var w = Self.workload(t, phases: [(20, 4)])
        w.phases[0].transition = .ramp
        var g = WorkloadGenerator(w, seed: 2)
        var first = 0, second = 0
        while let p = g.next() { if p.timestamp < 10 * Self.second { first += 1 } else { second += 1 } }
        #expect(abs(Double(second) / Double(first) - 3) < 0.15, "first half \(first), second \(second)")

        t.process = .onOff(on: 1, off: 3)
        var h = WorkloadGenerator(Self.workload(t, phases: [(40, 1)]), seed: 2)
        var inOff = 0, total = 0
        while let p = h.next() {
            total += 1
            if p.timestamp % (4 * Self.second) >= Self.second { inOff += 1 }
        }
        #expect(inOff == 0, "\(inOff) arrivals in off periods")
        // 10 on-periods of 1 s at 1000/s.
        #expect(abs(Double(total) - 10_000) < 4 * 100, "\(total) arrivals")
    }

    /// Deterministic and streamed: the same seed and stream give the same
    /// packets; streams split the rate; the stream is in timestamp order.
    @Test func theSameSeedGivesTheSameStream() throws {
        let w = try Workload.parse(yaml: WorkloadFileTests.good, file: "small.yaml")
        func packets(_ seed: UInt64, stream: Int = 0, streams: Int = 1) -> [Packet] {
            var g = WorkloadGenerator(w, seed: seed, stream: stream, streams: streams)
            var out: [Packet] = []
            while let p = g.next() { out.append(p) }
            return out
        }
        let a = packets(1), b = packets(1), c = packets(2)
        #expect(a.count > 5_000)
        #expect(a.elementsEqual(b) { $0.id == $1.id && $0.timestamp == $1.timestamp && $0.tcp == $1.tcp })
        #expect(!a.elementsEqual(c) { $0.id == $1.id && $0.timestamp == $1.timestamp })
        #expect(zip(a, a.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp }, "not in timestamp order")
        #expect(a.allSatisfy { $0.timestamp < w.duration }, "a packet after the workload's end")
        let s0 = packets(1, stream: 0, streams: 2), s1 = packets(1, stream: 1, streams: 2)
        // Two streams start as many connections as one (about 7,500:
        // 2,500 ± 50 Poisson, 5,000 constant), within 3 %.
        func started(_ stream: Int, of streams: Int) -> Int {
            var g = WorkloadGenerator(w, seed: 1, stream: stream, streams: streams)
            while g.next() != nil {}
            return g.stats.started.reduce(0, +)
        }
        let split = Double(started(0, of: 2) + started(1, of: 2)) / Double(started(0, of: 1))
        #expect(abs(split - 1) < 0.03, "two streams start \(split) of one stream's connections")
        // Streams' clients are disjoint, so no connection is split between
        // workers (the flood's spoofed sources are random in both).
        let web = { (p: Packet) in p.hook == .output }
        #expect(Set(s0.filter(web).map(\.id)).isDisjoint(with: Set(s1.filter(web).map(\.id))))
    }

    static func endings(finClient: Double = 0, finServer: Double = 0, rst: Double = 0, halfOpen: Double = 0,
                        idle: Double = 0) -> Workload.Endings {
        var e = Workload.Endings()
        e.finClient = finClient; e.finServer = finServer; e.rst = rst; e.halfOpen = halfOpen; e.idle = idle
        return e
    }
}

/// x^y (FlowGen's, which needs no libm).
private func power(_ x: Double, _ y: Double) -> Double { pow_(x, y) }
