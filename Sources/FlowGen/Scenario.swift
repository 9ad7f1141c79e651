import ConnTrack

/// The traffic presets. Each draws the kind of every new flow from its own
/// weights; the knobs in `ScenarioOptions` scale them.
public enum ScenarioKind: String, Sendable, CaseIterable, Codable {
    case steady, churn, synflood, elephants, nat, udp, mix, setups, teardowns

    public var summary: String {
        switch self {
        case .steady: "long-lived established TCP flows, data both ways, never closed"
        case .churn: "short TCP connections: handshake, a few segments, FIN/FIN (10% RST), then a new flow"
        case .synflood: "90% half-open SYNs from random sources that never complete, 10% steady flows"
        case .elephants: "long-lived flows picked with Zipf(1.1) popularity: a few flows carry most packets"
        case .nat: "churn where --nat-fraction (default 50%) of flows have NAT-redirected replies"
        case .udp: "UDP request/response flows (DNS-like), some never answered"
        case .mix: "40% steady, 30% churn, 10% abandoned mid-handshake, 10% UDP, 10% NAT churn"
        case .setups: "every packet a SYN that opens a new connection (RFC 9693's connection establishment)"
        case .teardowns: "every packet an RST closing a connection that setups opened with the same --seed, --flows and workers: restore that run's table (RFC 9693's connection tear-down)"
        }
    }

    /// Weights of flow kinds at birth.
    var weights: [(FlowKind, Double)] {
        switch self {
        case .steady, .elephants: return [(.long, 1)]
        case .churn: return [(.short, 0.9), (.reset, 0.1)]
        case .synflood: return [(.synOnly, 0.9), (.long, 0.1)]
        case .nat: return [(.short, 1)]
        case .udp: return [(.udp, 0.8), (.udpUnanswered, 0.2)]
        case .mix: return [(.long, 0.4), (.short, 0.27), (.reset, 0.03), (.abandoned, 0.1), (.udp, 0.1), (.short, 0.1)]
        // One kind each, so that both draw the same flows: a flow's tuple
        // depends on the seed, its slot and its generation only.
        case .setups: return [(.synOnly, 1)]
        case .teardowns: return [(.rstOnly, 1)]
        }
    }
}

/// Kinds of flow lifecycle the generator can play.
public enum FlowKind: UInt8, Sendable {
    case long, short, reset, abandoned, synOnly, udp, udpUnanswered
    /// One RST from the client where `synOnly` sent its SYN (the next
    /// sequence number), then a new flow.
    case rstOnly
}

/// Every knob of a generated stream. Same options and seed: same packets.
public struct ScenarioOptions: Sendable, Codable, Equatable {
    public var scenario: ScenarioKind = .mix
    /// Concurrent flows per stream (slots); finished flows are replaced.
    public var flows: Int = 100_000
    /// Packets in total, over all streams.
    public var packets: Int = 10_000_000
    /// Virtual duration covered by the packets, nanoseconds.
    public var duration: Int64 = 600 * Duration_ns.second
    /// Fraction of flows over IPv6.
    public var ipv6Ratio: Double = 0.2
    /// Fraction of flows with NAT-redirected replies (nat; the mix's
    /// share is its own 10 %).
    public var natFraction: Double = 0.5
    /// Streams share one flow population (contention) instead of owning
    /// disjoint ones.
    public var shared: Bool = false
    public var seed: UInt64 = 1
    /// Keep generating past `packets` (a soak): `packets` and `duration`
    /// then only set the rate (packets per virtual second).
    public var unbounded = false

    public init() {}

    public func validate() throws(ConfigError) {
        guard flows >= 1 && flows <= 50_000_000 else { throw ConfigError("--flows must be in 1...50000000, got \(flows)") }
        guard packets >= 1 && packets <= 10_000_000_000 else { throw ConfigError("--packets must be in 1...10000000000, got \(packets)") }
        guard duration >= 1 else { throw ConfigError("--duration must be > 0 seconds") }
        guard ipv6Ratio >= 0 && ipv6Ratio <= 1 else { throw ConfigError("--ipv6-ratio must be in 0...1, got \(ipv6Ratio)") }
        guard natFraction >= 0 && natFraction <= 1 else { throw ConfigError("--nat-fraction must be in 0...1, got \(natFraction)") }
    }
}
