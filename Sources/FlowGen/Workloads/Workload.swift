import ConnTrack

/// Traffic that changes: named components (kinds of traffic and attacks),
/// and phases, each a stretch of virtual time in which some components run
/// at a factor of their rate. Written by a person as a YAML file
/// (`Workload+YAML.swift`, docs/workloads.md); played by
/// `WorkloadGenerator`, one stream per worker, deterministic from the seed.
public struct Workload: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var components: [Component]
    public var phases: [Phase]

    public init(name: String, summary: String, components: [Component], phases: [Phase]) {
        self.name = name
        self.summary = summary
        self.components = components
        self.phases = phases
    }

    /// One stretch of the run.
    public struct Phase: Sendable, Equatable {
        public var name: String
        /// Virtual time, ns.
        public var duration: Int64
        /// How the rates get from the previous phase's to this one's.
        public var transition: Transition
        /// Each component's factor of its rate (index as in `components`;
        /// 0: off).
        public var factors: [Double]
        /// Flows started in this phase stop sending when it ends (they are
        /// left to time out); otherwise flows outlive their phase.
        public var endsFlows: Bool

        public init(name: String, duration: Int64, transition: Transition = .step, factors: [Double], endsFlows: Bool = false) {
            self.name = name
            self.duration = duration
            self.transition = transition
            self.factors = factors
            self.endsFlows = endsFlows
        }
    }

    public enum Transition: String, Sendable, Equatable, CaseIterable {
        /// The phase's rates from its first instant.
        case step
        /// From the previous phase's rates to this one's, linearly over the
        /// phase.
        case ramp
    }

    public struct Component: Sendable, Equatable {
        public var name: String
        public var kind: Kind
        public init(name: String, kind: Kind) { self.name = name; self.kind = kind }

        public enum Kind: Sendable, Equatable {
            case traffic(Traffic)
            case attack(Attack)
        }
    }

    /// Connections of a kind: how they arrive, what they are, how long and
    /// how much they send, how they end.
    public struct Traffic: Sendable, Equatable {
        /// New connections per second at factor 1 (a target concurrency is
        /// turned into this by Little's law: concurrency ÷ mean lifetime).
        public var rate: Double
        public var process: ArrivalProcess = .poisson
        /// Shares of TCP and UDP (they sum to 1).
        public var tcp: Double = 1
        public var udp: Double = 0
        /// Share of flows over IPv6.
        public var ipv6: Double = 0
        /// Share of flows with NAT-redirected replies, and how many ports
        /// the NAT address hands out (few: reply tuples clash).
        public var nat: Double = 0
        public var natPorts: Int = 60000
        /// Client addresses and ports, server addresses the flows use.
        public var clients: Int = 1 << 24
        public var clientPorts: Int = 64000
        public var servers: Int = 256
        /// Seconds from the first packet to the last.
        public var lifetime: Distribution = .exponential(mean: 10)
        /// Packets per flow, both directions (before popularity).
        public var size: Distribution = .constant(10)
        public var popularity: Popularity = .uniform
        public var endings: Endings = Endings()
        /// Round-trip time between a client's packet and the reply, ns.
        public var rtt: Int64 = 1_000_000

        public init(rate: Double) { self.rate = rate }
    }

    /// How a flow's packet count is scaled by its popularity rank: uniform
    /// (not at all), or Zipf(s) over ranks 1…`ranks`, normalised to a mean
    /// of 1, so that a few flows carry most packets.
    public enum Popularity: Sendable, Equatable {
        case uniform
        case zipf(s: Double, ranks: Int)
    }

    /// How connections end, as shares that sum to 1.
    public struct Endings: Sendable, Equatable {
        /// FIN from the client first, or from the server first.
        public var finClient = 0.5
        public var finServer = 0.3
        /// RST from the client.
        public var rst = 0.1
        /// SYN and SYN-ACK, then nothing (the third ACK never comes).
        public var halfOpen = 0.05
        /// No ending: the flow stops sending and is left to time out.
        public var idle = 0.05
        public init() {}
        public var total: Double { finClient + finServer + rst + halfOpen + idle }
    }

    /// Traffic an attacker sends, at `rate` packets (port-scan, floods) or
    /// connections (many-to-one) per second at factor 1.
    public struct Attack: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// SYNs from random (spoofed) sources to the target.
            case synFlood = "syn-flood"
            /// UDP datagrams from random sources to the target.
            case udpFlood = "udp-flood"
            /// SYNs from one source to the target's ports in turn; closed
            /// ports answer RST.
            case portScan = "port-scan"
            /// Short connections from many client ports to one destination.
            case manyToOne = "many-to-one"
        }
        public var kind: Kind
        public var rate: Double
        public var process: ArrivalProcess = .constant
        /// The target (IPv4) and port; a port scan goes through ports from
        /// `port` upwards.
        public var target: UInt32 = 0xac10_ff01
        public var port: UInt16 = 80
        public init(kind: Kind, rate: Double) { self.kind = kind; self.rate = rate }
    }

    /// How arrivals are spaced.
    public enum ArrivalProcess: Sendable, Equatable {
        /// Evenly, at the rate.
        case constant
        /// Exponential gaps (a Poisson process).
        case poisson
        /// Poisson at the rate during `on` seconds, nothing for `off`, in
        /// turn; the mean rate is rate × on ÷ (on + off).
        case onOff(on: Double, off: Double)
    }

    /// The run's length in virtual time, ns.
    public var duration: Int64 { phases.reduce(0) { $0 + $1.duration } }

    /// When each phase starts, ns.
    public var phaseStarts: [Int64] {
        var t: Int64 = 0
        return phases.map { p in defer { t += p.duration }; return t }
    }

    /// The phase at virtual time `t` (the last one after the end).
    public func phaseIndex(at t: Int64) -> Int {
        var end: Int64 = 0
        for (i, p) in phases.enumerated() {
            end += p.duration
            if t < end { return i }
        }
        return phases.count - 1
    }

    /// Component `c`'s factor at virtual time `t` (ramps included).
    public func factor(_ c: Int, at t: Int64) -> Double {
        let i = phaseIndex(at: t)
        let p = phases[i]
        guard p.transition == .ramp else { return p.factors[c] }
        let start = phaseStarts[i]
        let from = i > 0 ? phases[i - 1].factors[c] : 0
        let x = min(1, max(0, Double(t - start) / Double(max(1, p.duration))))
        return from + (p.factors[c] - from) * x
    }

    /// Virtual seconds of the phases in which component `c` runs (or
    /// ramps from or to running).
    public func activeSeconds(_ c: Int) -> Double {
        var total: Int64 = 0
        for (i, p) in phases.enumerated() {
            let from = p.transition == .ramp && i > 0 ? phases[i - 1].factors[c] : 0
            if p.factors[c] > 0 || from > 0 { total += p.duration }
        }
        return Double(total) / 1e9
    }

    /// Component `c`'s highest factor in any phase.
    public func peakFactor(_ c: Int) -> Double { phases.map { $0.factors[c] }.max() ?? 0 }

    /// An upper bound on the connections a table holds at once under this
    /// workload, when an ended flow's connection lingers `linger` ns: each
    /// component at its peak rate for its flows' mean lifetime plus the
    /// linger (attacks: the linger alone), no longer than the workload.
    /// Sizes the table and the memory estimate.
    public func expectedPeakConnections(linger: Int64) -> Int {
        let lingerSeconds = Double(linger) / 1e9
        var total = 0.0
        for (i, comp) in components.enumerated() {
            let seconds = activeSeconds(i)
            switch comp.kind {
            case .traffic(let t):
                let life = t.lifetime.mean.isFinite ? t.lifetime.mean : seconds
                // Idle TCP connections stay established: days, not the linger.
                let idle = t.tcp * t.endings.idle
                total += peakFactor(i) * t.rate * ((1 - idle) * min(seconds, life + lingerSeconds) + idle * seconds)
            case .attack(let a):
                total += peakFactor(i) * a.rate * min(seconds, lingerSeconds)
            }
        }
        return Int(min(total.rounded(.up), Double(1 << 40)))
    }

    /// The packets the workload is expected to send: each component's
    /// arrivals (its rate integrated over the phases, ramps included) times
    /// its flows' mean size (attacks: one packet, a scan's probe two,
    /// many-to-one's connection eight).
    public var expectedPackets: Double {
        var total = 0.0
        for (c, comp) in components.enumerated() {
            var arrivals = 0.0
            for (i, p) in phases.enumerated() {
                let from = p.transition == .ramp ? (i > 0 ? phases[i - 1].factors[c] : 0) : p.factors[c]
                arrivals += (from + p.factors[c]) / 2 * Double(p.duration) / 1e9
            }
            switch comp.kind {
            case .traffic(let t):
                var rate = t.rate
                if case .onOff(let on, let off) = t.process { rate *= on / (on + off) }
                total += arrivals * rate * max(1, t.size.mean)
            case .attack(let a):
                total += arrivals * a.rate * (a.kind == .portScan ? 2 : a.kind == .manyToOne ? 8 : 1)
            }
        }
        return total
    }

    /// An upper bound on the flows a generator keeps alive at once (all
    /// streams together): each component at its peak rate for its flows'
    /// mean lifetime (a scan's probes: a millisecond; many-to-one's
    /// connections: their second).
    public var expectedConcurrentFlows: Int {
        let seconds = Double(duration) / 1e9
        var total = 0.0
        for (i, comp) in components.enumerated() {
            switch comp.kind {
            case .traffic(let t):
                let life = t.lifetime.mean.isFinite ? t.lifetime.mean : seconds
                total += peakFactor(i) * t.rate * min(seconds, life + 1)
            case .attack(let a):
                total += peakFactor(i) * a.rate * (a.kind == .manyToOne ? 2 : 0.001)
            }
        }
        return Int(min(total.rounded(.up), Double(1 << 40)))
    }

    /// The workload with every phase `factor` times as long, at the same
    /// rates (`--time-scale`).
    public func scaled(by factor: Double) -> Workload {
        var w = self
        for i in w.phases.indices { w.phases[i].duration = Int64((Double(w.phases[i].duration) * factor).rounded()) }
        return w
    }
}

extension Workload {
    /// A positive random quantity: a lifetime in seconds or a size in packets.
    public enum Distribution: Sendable, Equatable {
        case constant(Double)
        case exponential(mean: Double)
        /// exp(N(ln median, sigma²)).
        case lognormal(median: Double, sigma: Double)
        /// Pareto type I: scale × U^(−1/shape); its mean is finite for shape > 1.
        case pareto(scale: Double, shape: Double)

        public var mean: Double {
            switch self {
            case .constant(let v): return v
            case .exponential(let m): return m
            case .lognormal(let med, let s): return med * expFast(s * s / 2)
            case .pareto(let xm, let a): return a > 1 ? a * xm / (a - 1) : .infinity
            }
        }

        /// One draw.
        @inline(__always)
        public func sample(_ r: inout Xoshiro) -> Double {
            switch self {
            case .constant(let v): return v
            case .exponential(let m): return m * r.exponential()
            case .lognormal(let med, let s): return med * expFast(s * r.normal())
            case .pareto(let xm, let a): return xm * expFast(r.exponential() / a)
            }
        }
    }
}
