import ConnTrack
import CPrefetch

/// One worker's stream of a workload: every component's arrivals (a
/// 1/`streams` share of its rate), each new connection playing its packets
/// at their times, attacks' packets at theirs, in timestamp order. Streaming
/// and deterministic: the state is the flows alive now, the next arrival of
/// each component and a calendar of pending packet times; the same workload,
/// seed and stream give the same packets.
///
/// The flows' next packets are kept in time order by an `EventCalendar`;
/// each component's next arrival is kept apart (`arrivals`).
public struct WorkloadGenerator {
    public let workload: Workload
    public let stream: Int
    public let streams: Int
    /// The end of the workload's last phase: no packet at or after it
    /// (flows still alive then stop there).
    public let end: Int64
    public internal(set) var emitted = 0
    /// What was generated, for reports and the theory checks.
    public internal(set) var stats: WorkloadStats
    /// Flows started and not yet ended.
    public internal(set) var liveFlows = 0

    var rng: Xoshiro
    let seed: UInt64
    let phaseStarts: [Int64]
    /// Per component: arrivals per ns at factor 1 in this stream.
    let baseRates: [Double]
    /// The workload flattened for the packet path (no reference counting
    /// there): each component's kind, and per phase its end, whether it
    /// ramps or ends its flows, and each component's factor (phase i,
    /// component c at i × components + c).
    let kinds: [Workload.Component.Kind]
    /// Each component's arrival process as integers (not read out of its
    /// kind per arrival: that copies the component; not converted per
    /// arrival either).
    let processes: [Arrivals]
    /// Each traffic component's traffic, read in place per flow.
    let traffic: TrafficTable

    struct Arrivals {
        var constant = false
        /// On-off: the period and its on part, ns (0: not on-off).
        var period: Int64 = 0
        var on: Int64 = 0
        init(_ p: Workload.ArrivalProcess) {
            switch p {
            case .constant: constant = true
            case .poisson: break
            case .onOff(let on, let off):
                period = Int64((on + off) * 1e9)
                self.on = Int64(on * 1e9)
            }
        }
    }
    let phaseEnds: [Int64]
    let ramps: [Bool]
    let endsFlows: [Bool]
    let factors: [Double]
    /// Per component with Zipf popularity: the sum of its ranks' weights.
    let zipfSums: [Double]
    var flows: [WorkloadFlow] = []
    var freeFlows: [Int32] = []

    /// The pending flow packets: flow i's next one as event c + i.
    var events = EventCalendar()
    /// Each component's next arrival (.max: none before the end). Kept out
    /// of the calendar: at a flood's rate nearly every arrival falls in the
    /// slot being played, where an insert costs a search and a move. An
    /// arrival goes before a flow packet of the same time (as event
    /// number `comp` before `c + i`).
    var arrivals: [Int64] = []
    var c: Int { kinds.count }
    /// How many events ahead a flow's record is fetched.
    static var prefetchDistance: Int { 6 }

    /// `seed` is the run's flow seed (`--seed`).
    public init(_ workload: Workload, seed: UInt64, stream: Int = 0, streams: Int = 1) {
        precondition(streams >= 1 && stream < streams, "stream \(stream) of \(streams)")
        self.workload = workload
        self.stream = stream
        self.streams = streams
        self.seed = seed
        end = workload.duration
        phaseStarts = workload.phaseStarts
        kinds = workload.components.map(\.kind)
        processes = workload.components.map { comp in
            switch comp.kind {
            case .traffic(let t): return Arrivals(t.process)
            case .attack(let a): return Arrivals(a.process)
            }
        }
        traffic = TrafficTable(workload.components.map { comp in
            if case .traffic(let t) = comp.kind { return t }
            return nil
        })
        phaseEnds = zip(workload.phaseStarts, workload.phases).map { $0 + $1.duration }
        ramps = workload.phases.map { $0.transition == .ramp }
        endsFlows = workload.phases.map(\.endsFlows)
        factors = workload.phases.flatMap(\.factors)
        rng = Xoshiro(seed: seed &* 0x9E37_79B9 &+ UInt64(stream) &+ 0x5EED)
        baseRates = workload.components.map { comp in
            switch comp.kind {
            case .traffic(let t): return t.rate / Double(streams) / 1e9
            case .attack(let a): return a.rate / Double(streams) / 1e9
            }
        }
        zipfSums = workload.components.map { comp in
            guard case .traffic(let t) = comp.kind, case .zipf(let s, let ranks) = t.popularity else { return 0 }
            return (1...ranks).reduce(0.0) { $0 + expFast(-s * lnFast(Double($1))) }
        }
        stats = WorkloadStats(components: workload.components.count)
        let ranks = workload.components.map { comp -> Int in
            guard case .traffic(let t) = comp.kind, case .zipf(_, let r) = t.popularity else { return 0 }
            return r
        }.max() ?? 0
        stats.packetsByRank = [Int](repeating: 0, count: ranks)
        // The population's arrays at their expected size, so that a run
        // past its warm-up allocates nothing.
        let expected = min(1 << 26, workload.expectedConcurrentFlows / streams * 5 / 4 + 16)
        flows.reserveCapacity(expected)
        freeFlows.reserveCapacity(expected)
        events.reserve(expected + kinds.count)
        for comp in 0..<c {
            let first = nextArrival(comp, after: 0)
            arrivals.append(first < end ? first : .max)
        }
    }

    // MARK: Arrivals

    /// The phase holding `t` and its bounds.
    @inline(__always)
    func phase(at t: Int64) -> (index: Int, start: Int64, end: Int64) {
        var i = phaseStarts.count - 1
        while i > 0 && phaseStarts[i] > t { i -= 1 }
        return (i, phaseStarts[i], phaseEnds[i])
    }

    /// Component `comp`'s next arrival after `t`: the time by which its
    /// rate, integrated from `t` (ramps and on-off periods included),
    /// reaches one exponential draw (Poisson) or 1 (constant). .max: none
    /// before the end.
    func nextArrivalTime(_ comp: Int, after t0: Int64, target: Double) -> Int64 {
        let base = baseRates[comp]
        let process = processes[comp]
        var t = t0, e = target
        while t < end {
            let (i, ps, pe) = phase(at: t)
            var segEnd = pe
            if process.period > 0 {
                let period = process.period, onNs = process.on
                let pos = t % period
                if pos >= onNs { t += period - pos; continue }
                segEnd = min(segEnd, t - pos + onNs)
            }
            let to = factors[i * c + comp]
            let from = ramps[i] ? (i > 0 ? factors[(i - 1) * c + comp] : 0) : to
            // λ(x) = lam + slope · (x − t) over [t, segEnd].
            let slope = base * (to - from) / Double(max(1, pe - ps))
            let lam = base * from + slope * Double(t - ps)
            let span = Double(segEnd - t)
            let whole = lam * span + slope * span * span / 2
            if whole >= e && whole > 0 {
                // The root of lam·x + slope·x²/2 = e, in the form that does
                // not cancel when the slope is small (or 0).
                let x = 2 * e / (lam + (lam * lam + 2 * slope * e).squareRoot())
                return t + max(1, Int64(x.rounded(.up)))
            }
            e -= max(0, whole)
            t = segEnd
        }
        return .max
    }

    /// Component `comp`'s next arrival after `t` (.max: none before the
    /// end): an exponential draw of its integrated rate (Poisson, on-off)
    /// or exactly 1 (constant).
    mutating func nextArrival(_ comp: Int, after t: Int64) -> Int64 {
        let target = processes[comp].constant ? 1 : rng.exponential()
        return nextArrivalTime(comp, after: t, target: target)
    }

    // MARK: The event queue

    @inline(__always)
    mutating func schedule(_ id: Int32, at t: Int64) { events.schedule(id, at: t) }

    // MARK: Packets

    /// The next packet, or nil when the workload is over.
    public mutating func next() -> Packet? {
        var p = Packet(id: WorkloadFlow().id, hook: .prerouting)
        return produce(into: &p) ? p : nil
    }

    /// Fills `buffer` from the start; returns how many packets were written.
    public mutating func fill(_ buffer: UnsafeMutableBufferPointer<Packet>) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var n = 0
        while n < buffer.count && produce(into: base + n) { n += 1 }
        return n
    }

    /// Event `id`'s flow record towards the cache: each of the two or
    /// three cache lines its 120 bytes span.
    @inline(__always)
    func prefetchFlow(_ id: Int32) {
        flows.withUnsafeBufferPointer {
            let p = UnsafeRawPointer($0.baseAddress! + (Int(id) - c))
            ct_prefetch_write(p)
            ct_prefetch_write(p + 64)
            ct_prefetch_write(p + (MemoryLayout<WorkloadFlow>.size - 1))
        }
    }

    /// Writes the next packet to `out` (initialised memory: a packet is
    /// plain data); false when the workload is over. Packets are written
    /// where they go, not returned through each layer: a packet is about a
    /// hundred bytes.
    @inline(__always)
    mutating func produce(into out: UnsafeMutablePointer<Packet>) -> Bool {
        while true {
            // The earliest arrival, the lowest component on a tie.
            var comp = -1, at = Int64.max
            for k in 0..<c where arrivals[k] < at {
                at = arrivals[k]
                comp = k
            }
            // A million flows do not fit in the cache: the records of the
            // flows a few events on are fetched while this one plays (when
            // a slot's events are taken out, its first few).
            if let e = events.peekTime(), e < at {
                if events.refilled {
                    events.refilled = false
                    for k in 1..<Self.prefetchDistance { if let a = events.upcoming(k) { prefetchFlow(a) } }
                }
                let id = events.pop().id
                if let ahead = events.upcoming(Self.prefetchDistance - 1) { prefetchFlow(ahead) }
                if play(Int(id) - c, at: e, out) { break }
            } else if comp >= 0 {
                if arrive(comp, at: at, out) { break }
            } else {
                return false
            }
        }
        emitted += 1
        return true
    }
}

extension WorkloadGenerator {
    /// The generator's memory per flow alive in it: its state, its pending
    /// event (at worst a calendar block of its own, when events are too
    /// sparse to share one), a free-list entry.
    public static let bytesPerFlow = MemoryLayout<WorkloadFlow>.stride + EventCalendar.blockBytes + 4
    /// The calendar's chain heads and tails.
    public static let wheelBytes = EventCalendar.headerBytes
}

/// What a workload stream generated.
public struct WorkloadStats: Sendable, Equatable {
    /// Connections (or attack packets) started, per component.
    public var started: [Int]
    /// Connections by ending: FIN from the client, from the server, RST,
    /// half-open, idle.
    public var endings = [Int](repeating: 0, count: 5)
    /// Packets per popularity rank (rank r at index r − 1), of components
    /// with Zipf popularity.
    public var packetsByRank: [Int] = []
    init(components: Int) { started = [Int](repeating: 0, count: components) }
}
