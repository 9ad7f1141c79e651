import ConnTrack

/// One flow slot's lifecycle state.
struct FlowState {
    var kind: FlowKind = .long
    var id: TupleID = TupleID(srcAddr: .init(hi: 0, lo: 0), srcPort: 0, dstAddr: .init(hi: 0, lo: 0), dstPort: 0,
                              transProto: .tcp, netProto: .ipv4)
    var nat = false
    var natAddr = IPAddress(hi: 0, lo: 0)
    var natPort: UInt16 = 0
    var phase: UInt8 = 0
    var cseq: UInt32 = 0
    var sseq: UInt32 = 0
    var left = 0
    var generation: UInt64 = 0
    var clientTurn = true
    /// Who sends the first FIN (the tracker reports ClosedBySelf or ClosedByPeer).
    var serverClosesFirst = false
}

/// A deterministic, streaming packet source for one worker: a fixed number
/// of flow slots, each playing a flow's lifecycle and replaced by a new flow
/// when it ends. Memory is O(flows), not O(packets).
public struct FlowGenerator {
    /// Heap bytes per flow slot (the Zipf table of `elephants` adds 8).
    public static let bytesPerFlow = MemoryLayout<FlowState>.stride + 8

    public let options: ScenarioOptions
    public let stream: Int
    public let streams: Int
    /// Packets this stream emits in total.
    public let total: Int
    public private(set) var emitted = 0
    /// Flows started (births), per kind.
    public private(set) var flowsStarted = 0
    var rng: Xoshiro
    var slots: [FlowState]
    let zipf: Zipf?
    let weights: [(FlowKind, Double)]
    let dt: Double

    public init(_ options: ScenarioOptions, stream: Int = 0, streams: Int = 1) {
        precondition(streams >= 1 && stream < streams)
        self.options = options
        self.stream = stream
        self.streams = streams
        let base = options.packets / streams
        total = options.unbounded ? Int.max : base + (stream < options.packets % streams ? 1 : 0)
        rng = Xoshiro(seed: options.seed &* 0x9E37_79B9 &+ UInt64(stream) &+ 1)
        let perStreamFlows = options.shared ? options.flows : max(1, options.flows / streams)
        slots = [FlowState](repeating: FlowState(), count: perStreamFlows)
        zipf = options.scenario == .elephants ? Zipf(n: perStreamFlows, s: 1.1) : nil
        weights = options.scenario.weights
        dt = Double(options.duration) / Double(max(1, base))
        for i in 0..<slots.count { birth(i) }
    }

    /// SplitMix64's output for state `a + gamma * b` stepped once, i.e. the
    /// (b+1)-th value of a stream seeded with `a`.
    @inline(__always)
    func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var s = SplitMix64(seed: a &+ 0x9E37_79B9_7F4A_7C15 &* b)
        return s.next()
    }

    /// Starts a new flow in slot i. Its identity depends on the seed, the
    /// slot and its generation (and the stream, unless flows are shared),
    /// so shared streams replay the same flows.
    mutating func birth(_ i: Int) {
        let gen = slots[i].generation &+ 1
        let owner = options.shared ? 0 : UInt64(stream) &+ 1
        var h = mix(mix(mix(options.seed, owner), UInt64(i)), gen)
        func take(_ bits: UInt64) -> UInt64 { let v = h & ((1 << bits) - 1); h = (h >> bits) | (h << (64 - bits)); return v }
        // Kind from the scenario's weights.
        var u = Double(take(20)) / Double(1 << 20)
        var kind = weights[0].0
        var natFlow = false
        for (idx, (k, w)) in weights.enumerated() {
            if u < w {
                kind = k
                // In mix, the last `short` entry stands for NAT churn.
                natFlow = (options.scenario == .mix && idx == weights.count - 1)
                break
            }
            u -= w
        }
        if options.scenario == .nat { natFlow = Double(take(10)) / 1024 < options.natFraction }
        let v6 = Double(take(10)) / 1024 < options.ipv6Ratio
        let udp = kind == .udp || kind == .udpUnanswered
        var f = FlowState()
        f.kind = kind
        f.generation = gen
        let cport = UInt16(1024 + take(16) % 64000)
        let server = take(8)
        let client = take(24) | (UInt64(owner & 0x3f) << 24)
        if v6 {
            f.id = TupleID(srcAddr: IPAddress(hi: 0xfd00_0000_0000_0000 | owner, lo: (UInt64(i) << 32) | (client & 0xffff_ffff)),
                           srcPort: cport, dstAddr: IPAddress(hi: 0x2001_0db8_0000_0000, lo: 0x100 | server),
                           dstPort: udp ? 53 : 443, transProto: udp ? .udp : .tcp, netProto: .ipv6)
        } else {
            f.id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0000 | UInt32(truncatingIfNeeded: client)), srcPort: cport,
                           dstAddr: IPAddress(v4: 0xac10_0000 | UInt32(server)), dstPort: udp ? 53 : 443,
                           transProto: udp ? .udp : .tcp, netProto: .ipv4)
        }
        if natFlow {
            f.nat = true
            f.natAddr = v6 ? IPAddress(hi: 0xfd99_0000_0000_0000, lo: 0x200 | server) : IPAddress(v4: 0xc0a8_0000 | UInt32(server))
            f.natPort = 8080
        }
        f.serverClosesFirst = take(1) == 1
        f.cseq = UInt32(truncatingIfNeeded: take(32))
        f.sseq = UInt32(truncatingIfNeeded: mix(h, 7))
        switch kind {
        case .short, .reset: f.left = 2 + Int(take(3))
        case .udp, .udpUnanswered: f.left = 1 + Int(take(2))
        default: f.left = 0
        }
        slots[i] = f
        flowsStarted += 1
    }

    /// The next packet, or nil when the stream is exhausted.
    public mutating func next() -> Packet? {
        guard emitted < total else { return nil }
        let ts = Int64(Double(emitted) * dt)
        emitted += 1
        let i = zipf.map { $0.sample(&rng) } ?? rng.below(slots.count)
        return emit(i, ts)
    }

    /// Fills `buffer` from the start; returns how many packets were written.
    /// The same packets as `next()` one by one, written in place: no
    /// optional and no copy of the flow's state per packet.
    public mutating func fill(_ buffer: UnsafeMutableBufferPointer<Packet>) -> Int {
        let n = min(buffer.count, total - emitted)
        guard n > 0, let base = buffer.baseAddress else { return 0 }
        for k in 0..<n {
            let ts = Int64(Double(emitted) * dt)
            emitted += 1
            let i = zipf.map { $0.sample(&rng) } ?? rng.below(slots.count)
            base[k] = emit(i, ts)
        }
        return n
    }

    /// Slot i's next packet at `ts`; a new flow takes the slot when it ends.
    @inline(__always)
    mutating func emit(_ i: Int, _ ts: Int64) -> Packet {
        let p = Self.step(&slots[i], &rng, ts)
        if slots[i].phase == 255 { birth(i) }
        return p
    }

    /// Advances flow `f` by one packet and returns it (phase 255: ended).
    /// Static, with the flow and the generator's random source passed in
    /// place, so the flow's state is neither copied out nor back per packet.
    @inline(__always)
    static func step(_ f: inout FlowState, _ rng: inout Xoshiro, _ ts: Int64) -> Packet {
        let serverID = f.nat ? f.id.redirectedReply(to: f.natAddr, port: f.natPort) : f.id.reversed
        let natInfo: (IPAddress, UInt16)? = f.nat ? (f.natAddr, f.natPort) : nil
        // The flow is passed in, not captured: a nested function that
        // captures an `inout` or local `var` makes every access to it a
        // dynamic exclusivity check.
        func client(_ f: FlowState, _ flags: TCPFlags, len: UInt16 = 0) -> Packet {
            Packet(id: f.id, tcp: TCPSegment(flags: flags, seq: f.cseq, ack: flags.contains(.ack) ? f.sseq : 0, window: 65535, payloadLength: len),
                   hook: .output, timestamp: ts, nat: natInfo)
        }
        func server(_ f: FlowState, _ flags: TCPFlags, len: UInt16 = 0) -> Packet {
            Packet(id: serverID, tcp: TCPSegment(flags: flags, seq: f.sseq, ack: f.cseq, window: 65535, payloadLength: len),
                   hook: .prerouting, timestamp: ts)
        }
        if f.id.transProto == .udp {
            if f.phase == 0 || f.kind == .udpUnanswered {
                f.phase = 1
                f.left -= 1
                let p = client(f, [], len: 40)
                if f.left <= 0 && f.kind == .udpUnanswered { f.phase = 255 }
                return p
            }
            f.phase = 0
            if f.left <= 0 { f.phase = 255 }
            return server(f, [], len: 120)
        }
        switch f.phase {
        case 0 where f.kind == .rstOnly:
            f.cseq &+= 1
            f.phase = 255
            return client(f, .rst)
        case 0:
            let p = client(f, .syn)
            f.cseq &+= 1
            f.phase = f.kind == .synOnly ? 255 : 1
            return p
        case 1:
            let p = server(f, [.syn, .ack])
            f.sseq &+= 1
            f.phase = f.kind == .abandoned ? 255 : 2
            return p
        case 2:
            f.phase = 3
            f.clientTurn = true
            return client(f, .ack)
        case 3:
            if f.kind != .long && f.left <= 0 {
                if f.kind == .reset { f.phase = 255; return client(f, .rst) }
                f.phase = 4
                if f.serverClosesFirst {
                    let p = server(f, [.fin, .ack])
                    f.sseq &+= 1
                    return p
                }
                let p = client(f, [.fin, .ack])
                f.cseq &+= 1
                return p
            }
            let len = UInt16(64 + rng.below(1336))
            f.left -= 1
            defer { f.clientTurn.toggle() }
            if f.clientTurn {
                let p = client(f, [.psh, .ack], len: len)
                f.cseq &+= UInt32(len)
                return p
            }
            let p = server(f, [.psh, .ack], len: len)
            f.sseq &+= UInt32(len)
            return p
        case 4:
            f.phase = 5
            if f.serverClosesFirst {
                let p = client(f, [.fin, .ack])
                f.cseq &+= 1
                return p
            }
            let p = server(f, [.fin, .ack])
            f.sseq &+= 1
            return p
        default:
            f.phase = 255
            return f.serverClosesFirst ? server(f, .ack) : client(f, .ack)
        }
    }
}
