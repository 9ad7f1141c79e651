import ConnTrack
import Yams

/// A workload file that cannot be used: one line naming the file, the line,
/// the key and what is allowed.
public struct WorkloadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

extension Workload {
    /// Reads a workload from YAML (docs/workloads.md has every key); `file`
    /// names it in errors.
    public static func parse(yaml text: String, file: String) throws(WorkloadError) -> Workload {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw WorkloadError("\(file): not YAML: \(error)".split(separator: "\n").joined(separator: " "))
        }
        guard let root else { throw WorkloadError("\(file): empty; a workload needs 'name', 'components' and 'phases'") }
        return try WorkloadReader(file: file).workload(root)
    }
}

/// Walks the YAML tree; every error names the file, line and key.
struct WorkloadReader {
    let file: String

    func error(_ n: Node?, _ key: String, _ what: String) -> WorkloadError {
        let line = n?.mark.map { ":\($0.line)" } ?? ""
        return WorkloadError("\(file)\(line): \(key): \(what)")
    }

    /// A mapping's entries in order; an unknown or repeated key is refused.
    func mapping(_ n: Node, _ key: String, allowed: [String]) throws(WorkloadError) -> [(String, Node)] {
        guard case .mapping(let m) = n else { throw error(n, key, "must be a mapping of \(allowed.joined(separator: ", "))") }
        var out: [(String, Node)] = []
        for (k, v) in m {
            guard let name = k.scalar?.string else { throw error(k, key, "keys must be names") }
            guard allowed.contains(name) else {
                throw error(k, key, "unknown key '\(name)' (allowed: \(allowed.joined(separator: ", ")))")
            }
            guard !out.contains(where: { $0.0 == name }) else { throw error(k, key, "'\(name)' is given twice") }
            out.append((name, v))
        }
        return out
    }

    func string(_ n: Node, _ key: String) throws(WorkloadError) -> String {
        guard case .scalar(let s) = n else { throw error(n, key, "must be a text value") }
        return s.string
    }

    func number(_ n: Node, _ key: String, _ range: ClosedRange<Double>, open low: Bool = false) throws(WorkloadError) -> Double {
        let shown = low ? "(\(fmt(range.lowerBound)), \(fmt(range.upperBound))]" : "\(fmt(range.lowerBound))...\(fmt(range.upperBound))"
        guard case .scalar(let s) = n, let v = Double(s.string.replacingUnderscores()), v.isFinite else {
            throw error(n, key, "must be a number in \(shown)")
        }
        guard range.contains(v), !(low && v == range.lowerBound) else { throw error(n, key, "\(s.string) is out of range \(shown)") }
        return v
    }

    func integer(_ n: Node, _ key: String, _ range: ClosedRange<Int>) throws(WorkloadError) -> Int {
        guard case .scalar(let s) = n, let v = Int(s.string.replacingUnderscores()) else {
            throw error(n, key, "must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        guard range.contains(v) else { throw error(n, key, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func bool(_ n: Node, _ key: String) throws(WorkloadError) -> Bool {
        guard case .scalar(let s) = n, let b = ["true": true, "false": false, "yes": true, "no": false][s.string] else {
            throw error(n, key, "must be true or false")
        }
        return b
    }

    func choice<E: RawRepresentable & CaseIterable>(_ n: Node, _ key: String, _: E.Type) throws(WorkloadError) -> E where E.RawValue == String {
        let s = try string(n, key)
        guard let v = E(rawValue: s) else {
            throw error(n, key, "'\(s)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    func workload(_ root: Node) throws(WorkloadError) -> Workload {
        var name = "", summary = ""
        var componentsNode: Node?, phasesNode: Node?
        for (k, v) in try mapping(root, "workload", allowed: ["name", "summary", "components", "phases"]) {
            switch k {
            case "name": name = try string(v, "name")
            case "summary": summary = try string(v, "summary")
            case "components": componentsNode = v
            default: phasesNode = v
            }
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw error(root, "name", "a workload needs a name of letters, digits, '-' and '_'")
        }
        guard let componentsNode else { throw error(root, "components", "missing: a workload needs at least one component") }
        guard let phasesNode else { throw error(root, "phases", "missing: a workload needs at least one phase") }
        let components = try self.components(componentsNode)
        let phases = try self.phases(phasesNode, components)
        let w = Workload(name: name, summary: summary, components: components, phases: phases)
        guard w.duration <= 10_000_000 * Duration_ns.second else {
            throw error(phasesNode, "phases", "the phases last more than 10000000 virtual seconds in all")
        }
        return w
    }

    func components(_ n: Node) throws(WorkloadError) -> [Workload.Component] {
        guard case .mapping(let m) = n, !m.isEmpty else {
            throw error(n, "components", "must be a mapping of component names to components")
        }
        var out: [Workload.Component] = []
        for (k, v) in m {
            guard let name = k.scalar?.string, !name.isEmpty else { throw error(k, "components", "a component needs a name") }
            guard !out.contains(where: { $0.name == name }) else { throw error(k, "components", "'\(name)' is given twice") }
            let key = "components.\(name)"
            if case .mapping(let c) = v, c.contains(where: { $0.key.scalar?.string == "attack" }) {
                out.append(.init(name: name, kind: .attack(try attack(v, key))))
            } else {
                out.append(.init(name: name, kind: .traffic(try traffic(v, key))))
            }
        }
        return out
    }

    static let trafficKeys = ["arrivals", "protocol", "ipv6", "nat", "nat-ports", "clients", "client-ports", "servers",
                              "lifetime", "size", "popularity", "endings", "rtt-ms"]

    func traffic(_ n: Node, _ key: String) throws(WorkloadError) -> Workload.Traffic {
        var t = Workload.Traffic(rate: 0)
        var concurrent: Double?
        var arrivalsNode: Node?
        for (k, v) in try mapping(n, key, allowed: Self.trafficKeys) {
            let kk = "\(key).\(k)"
            switch k {
            case "arrivals":
                arrivalsNode = v
                (t.rate, concurrent, t.process) = try arrivals(v, kk)
            case "protocol":
                var tcp = 0.0, udp = 0.0
                for (pk, pv) in try mapping(v, kk, allowed: ["tcp", "udp"]) {
                    if pk == "tcp" { tcp = try number(pv, "\(kk).tcp", 0...1) } else { udp = try number(pv, "\(kk).udp", 0...1) }
                }
                guard abs(tcp + udp - 1) < 1e-9 else { throw error(v, kk, "the shares (tcp \(fmt(tcp)), udp \(fmt(udp))) sum to \(fmt(tcp + udp)), not 1") }
                (t.tcp, t.udp) = (tcp, udp)
            case "ipv6": t.ipv6 = try number(v, kk, 0...1)
            case "nat": t.nat = try number(v, kk, 0...1)
            case "nat-ports": t.natPorts = try integer(v, kk, 1...65535)
            case "clients": t.clients = try integer(v, kk, 1...(1 << 24))
            case "client-ports": t.clientPorts = try integer(v, kk, 1...64000)
            case "servers": t.servers = try integer(v, kk, 1...65536)
            case "lifetime": t.lifetime = try distribution(v, kk, "seconds")
            case "size": t.size = try distribution(v, kk, "packets")
            case "popularity": t.popularity = try popularity(v, kk)
            case "endings": t.endings = try endings(v, kk)
            default: t.rtt = Int64(try number(v, kk, 0...10_000, open: true) * 1e6)
            }
        }
        guard let arrivalsNode else { throw error(n, "\(key).arrivals", "missing: a component needs its arrivals (rate or concurrent)") }
        if let c = concurrent {
            let mean = t.lifetime.mean
            guard mean.isFinite && mean > 0 else {
                throw error(arrivalsNode, "\(key).arrivals.concurrent", "needs a lifetime with a finite mean (Little's law: rate = concurrent / mean lifetime)")
            }
            t.rate = c / mean
        }
        return t
    }

    func arrivals(_ n: Node, _ key: String) throws(WorkloadError) -> (Double, Double?, Workload.ArrivalProcess) {
        var rate: Double?, concurrent: Double?
        var process = "poisson", on: Double?, off: Double?
        var onNode: Node?
        for (k, v) in try mapping(n, key, allowed: ["rate", "concurrent", "process", "on", "off"]) {
            switch k {
            case "rate": rate = try number(v, "\(key).rate", 0...1e9, open: true)
            case "concurrent": concurrent = try number(v, "\(key).concurrent", 1...1e9)
            case "process":
                process = try string(v, "\(key).process")
                guard ["constant", "poisson", "on-off"].contains(process) else {
                    throw error(v, "\(key).process", "'\(process)' is not one of constant, poisson, on-off")
                }
            case "on": on = try number(v, "\(key).on", 0.000001...1e6); onNode = v
            default: off = try number(v, "\(key).off", 0.000001...1e6); onNode = v
            }
        }
        guard (rate == nil) != (concurrent == nil) else {
            throw error(n, key, "give one of rate (new connections per second) or concurrent (flows at once)")
        }
        switch process {
        case "constant": if onNode != nil { throw error(onNode, key, "on and off apply to process: on-off") }; return (rate ?? 0, concurrent, .constant)
        case "poisson": if onNode != nil { throw error(onNode, key, "on and off apply to process: on-off") }; return (rate ?? 0, concurrent, .poisson)
        default:
            guard let on, let off else { throw error(n, key, "process: on-off needs on and off (seconds)") }
            return (rate ?? 0, concurrent, .onOff(on: on, off: off))
        }
    }

    func distribution(_ n: Node, _ key: String, _ unit: String) throws(WorkloadError) -> Workload.Distribution {
        if case .scalar = n { return .constant(try number(n, key, 0...1e9, open: true)) }
        let entries = try mapping(n, key, allowed: ["constant", "exponential", "lognormal", "pareto"])
        guard entries.count == 1, let (k, v) = entries.first else {
            throw error(n, key, "one of constant, exponential, lognormal, pareto (\(unit))")
        }
        let kk = "\(key).\(k)"
        switch k {
        case "constant": return .constant(try number(v, kk, 0...1e9, open: true))
        case "exponential":
            if case .scalar = v { return .exponential(mean: try number(v, kk, 0...1e9, open: true)) }
            let p = try mapping(v, kk, allowed: ["mean"])
            guard let m = p.first else { throw error(v, kk, "needs mean") }
            return .exponential(mean: try number(m.1, "\(kk).mean", 0...1e9, open: true))
        case "lognormal":
            var median: Double?, sigma: Double?
            for (pk, pv) in try mapping(v, kk, allowed: ["median", "sigma"]) {
                if pk == "median" { median = try number(pv, "\(kk).median", 0...1e9, open: true) } else { sigma = try number(pv, "\(kk).sigma", 0...5) }
            }
            guard let median, let sigma else { throw error(v, kk, "needs median and sigma") }
            return .lognormal(median: median, sigma: sigma)
        default:
            var scale: Double?, shape: Double?
            for (pk, pv) in try mapping(v, kk, allowed: ["scale", "shape"]) {
                if pk == "scale" { scale = try number(pv, "\(kk).scale", 0...1e9, open: true) } else { shape = try number(pv, "\(kk).shape", 0...100, open: true) }
            }
            guard let scale, let shape else { throw error(v, kk, "needs scale and shape") }
            return .pareto(scale: scale, shape: shape)
        }
    }

    func popularity(_ n: Node, _ key: String) throws(WorkloadError) -> Workload.Popularity {
        if case .scalar(let s) = n {
            guard s.string == "uniform" else { throw error(n, key, "'\(s.string)' is not uniform or a zipf mapping") }
            return .uniform
        }
        let z = try mapping(n, key, allowed: ["zipf"])
        guard let zn = z.first?.1 else { throw error(n, key, "uniform, or zipf with s") }
        var s = 1.0, ranks = 1000
        for (k, v) in try mapping(zn, "\(key).zipf", allowed: ["s", "ranks"]) {
            if k == "s" { s = try number(v, "\(key).zipf.s", 0...10, open: true) } else { ranks = try integer(v, "\(key).zipf.ranks", 1...1_000_000) }
        }
        return .zipf(s: s, ranks: ranks)
    }

    func endings(_ n: Node, _ key: String) throws(WorkloadError) -> Workload.Endings {
        var e = Workload.Endings()
        e.finClient = 0; e.finServer = 0; e.rst = 0; e.halfOpen = 0; e.idle = 0
        for (k, v) in try mapping(n, key, allowed: ["fin-client", "fin-server", "rst", "half-open", "idle"]) {
            let x = try number(v, "\(key).\(k)", 0...1)
            switch k {
            case "fin-client": e.finClient = x
            case "fin-server": e.finServer = x
            case "rst": e.rst = x
            case "half-open": e.halfOpen = x
            default: e.idle = x
            }
        }
        guard abs(e.total - 1) < 1e-9 else { throw error(n, key, "the shares sum to \(fmt(e.total)), not 1") }
        return e
    }

    func attack(_ n: Node, _ key: String) throws(WorkloadError) -> Workload.Attack {
        var kind: Workload.Attack.Kind?, rate: Double?
        var a = Workload.Attack(kind: .synFlood, rate: 1)
        for (k, v) in try mapping(n, key, allowed: ["attack", "rate", "process", "target", "port"]) {
            let kk = "\(key).\(k)"
            switch k {
            case "attack": kind = try choice(v, kk, Workload.Attack.Kind.self)
            case "rate": rate = try number(v, kk, 0...1e9, open: true)
            case "process":
                let p = try string(v, kk)
                switch p {
                case "constant": a.process = .constant
                case "poisson": a.process = .poisson
                default: throw error(v, kk, "'\(p)' is not one of constant, poisson")
                }
            case "target":
                let s = try string(v, kk)
                let parts = s.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) }
                guard parts.count == 4, parts.allSatisfy({ $0 != nil && $0! < 256 }) else { throw error(v, kk, "'\(s)' is not an IPv4 address (a.b.c.d)") }
                a.target = parts.reduce(0) { $0 << 8 | $1! }
            default: a.port = UInt16(try integer(v, kk, 1...65535))
            }
        }
        guard let kind else { throw error(n, "\(key).attack", "missing") }
        guard let rate else { throw error(n, "\(key).rate", "missing: packets (connections for many-to-one) per second") }
        a.kind = kind
        a.rate = rate
        return a
    }

    func phases(_ n: Node, _ components: [Workload.Component]) throws(WorkloadError) -> [Workload.Phase] {
        guard case .sequence(let seq) = n, !seq.isEmpty else { throw error(n, "phases", "must be a list of at least one phase") }
        var out: [Workload.Phase] = []
        for (i, p) in seq.enumerated() {
            let key = "phases[\(i)]"
            var name = "phase \(i + 1)", duration: Double?, transition = Workload.Transition.step, ends = false
            var factors = [Double](repeating: 0, count: components.count)
            var ran = false
            for (k, v) in try mapping(p, key, allowed: ["name", "duration", "transition", "run", "ends-flows"]) {
                let kk = "\(key).\(k)"
                switch k {
                case "name": name = try string(v, kk)
                case "duration":
                    guard case .scalar(let s) = v, let d = Double(s.string.replacingUnderscores()), d.isFinite else {
                        throw error(v, kk, "must be a number of virtual seconds in 0.001...10000000")
                    }
                    guard d != 0 else { throw error(v, kk, "a phase of zero length (\(s.string)); allowed: 0.001...10000000 virtual seconds") }
                    guard d >= 0.001 && d <= 10_000_000 else { throw error(v, kk, "\(s.string) is out of range 0.001...10000000 virtual seconds") }
                    duration = d
                case "transition": transition = try choice(v, kk, Workload.Transition.self)
                case "ends-flows": ends = try bool(v, kk)
                default:
                    ran = true
                    guard case .mapping(let m) = v else { throw error(v, kk, "must map component names to rate factors") }
                    for (ck, cv) in m {
                        guard let cname = ck.scalar?.string, let c = components.firstIndex(where: { $0.name == cname }) else {
                            throw error(ck, kk, "unknown component '\(ck.scalar?.string ?? "?")' (components: \(components.map(\.name).joined(separator: ", ")))")
                        }
                        factors[c] = try number(cv, "\(kk).\(cname)", 0...1e6)
                    }
                }
            }
            guard let duration else { throw error(p, "\(key).duration", "missing: virtual seconds in 0.001...10000000") }
            guard ran else { throw error(p, "\(key).run", "missing: the components that run in the phase, with their rate factors") }
            out.append(Workload.Phase(name: name, duration: Int64(duration * 1e9), transition: transition, factors: factors, endsFlows: ends))
        }
        return out
    }
}

/// A number as a person wrote it: no trailing ".0".
func fmt(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
}

extension String {
    /// "200_000" as 200000, as YAML 1.1 reads it.
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
