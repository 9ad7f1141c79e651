import ConnTrack

/// One connection a workload plays: its tuple, where it is in its life, and
/// when its next packet is due.
struct WorkloadFlow {
    var id = TupleID(srcAddr: .init(hi: 0, lo: 0), srcPort: 0, dstAddr: .init(hi: 0, lo: 0), dstPort: 0,
                     transProto: .tcp, netProto: .ipv4)
    var natAddr = IPAddress(hi: 0, lo: 0)
    var natPort: UInt16 = 0
    var nat = false
    var udp = false
    /// What it sends next (`Stage`).
    var stage = Stage.syn
    var ending = Ending.finClient
    var clientTurn = true
    var cseq: UInt32 = 0
    var sseq: UInt32 = 0
    /// Data packets (TCP) or request/response packets (UDP) still to send.
    var left: Int32 = 0
    /// Between data packets, and the time of the ending, ns.
    var gap: Int64 = 0
    var finAt: Int64 = 0
    var rtt: Int64 = 0
    /// Packets due at or after this are not sent: the end of its phase
    /// when the phase ends its flows, else the end of the workload.
    var stopAt: Int64 = .max
    /// Popularity rank (0: none), for the statistics.
    var rank: Int32 = 0

    enum Stage: UInt8 { case syn, synAck, ack, data, fin1, fin2, lastAck, rst, request, response, refused }
    enum Ending: UInt8 { case finClient, finServer, rst, halfOpen, idle }
}

extension Workload.Endings {
    /// The ending a uniform draw `u` in [0, 1) picks, by the shares.
    @inline(__always)
    func pick(_ u: Double) -> WorkloadFlow.Ending {
        var x = u * total
        if x < finClient { return .finClient }
        x -= finClient
        if x < finServer { return .finServer }
        x -= finServer
        if x < rst { return .rst }
        x -= rst
        return x < halfOpen ? .halfOpen : .idle
    }
}

extension WorkloadGenerator {
    /// Component `comp`'s arrival at `t`: a new flow's first packet, or an
    /// attack's packet, to `out` (false: none). Draws the next arrival.
    mutating func arrive(_ comp: Int, at t: Int64, _ out: UnsafeMutablePointer<Packet>) -> Bool {
        let next = nextArrival(comp, after: t)
        arrivals[comp] = next < end ? next : .max
        stats.started[comp] += 1
        if let tr = traffic[comp] { return startFlow(tr, comp, at: t, out) }
        guard case .attack(let a) = kinds[comp] else { preconditionFailure("component \(comp): no traffic, no attack") }
        return attack(a, comp, at: t, out)
    }

    /// A client address of this stream: the streams' clients are disjoint.
    @inline(__always)
    func client(_ index: Int, v6: Bool) -> IPAddress {
        let k = UInt64(index) &* UInt64(streams) &+ UInt64(stream)
        return v6 ? IPAddress(hi: 0xfd00_0000_0000_0000, lo: 0x1_0000_0000 | k)
                   : IPAddress(v4: 0x0a00_0000 | UInt32(truncatingIfNeeded: k & 0xff_ffff))
    }

    mutating func newFlowIndex() -> Int {
        liveFlows += 1
        if let f = freeFlows.popLast() { return Int(f) }
        flows.append(WorkloadFlow())
        return flows.count - 1
    }

    mutating func endFlow(_ f: Int) {
        liveFlows -= 1
        freeFlows.append(Int32(f))
    }

    /// A new flow at `t`, and its first packet to `out` (played now: it is
    /// due now). `tr` is read in place (`TrafficTable`).
    /// `to`: the destination (many-to-one), instead of one of the servers.
    mutating func startFlow(_ tr: UnsafePointer<Workload.Traffic>, _ comp: Int, at t: Int64, _ out: UnsafeMutablePointer<Packet>, to: (UInt32, UInt16)? = nil) -> Bool {
        var f = WorkloadFlow()
        f.udp = tr.pointee.udp > 0 && rng.unit() < tr.pointee.udp
        let v6 = tr.pointee.ipv6 > 0 && rng.unit() < tr.pointee.ipv6
        let perStream = max(1, tr.pointee.clients / streams)
        let server = UInt64(rng.below(tr.pointee.servers))
        let src = client(rng.below(perStream), v6: v6)
        let port = UInt16(1024 + rng.below(tr.pointee.clientPorts))
        let dst = v6 ? IPAddress(hi: 0x2001_0db8_0000_0000, lo: 0x100 &+ server) : IPAddress(v4: 0xac10_0000 &+ UInt32(server))
        f.id = TupleID(srcAddr: src, srcPort: port, dstAddr: to.map { IPAddress(v4: $0.0) } ?? dst, dstPort: to?.1 ?? (f.udp ? 53 : 443),
                       transProto: f.udp ? .udp : .tcp, netProto: v6 ? .ipv6 : .ipv4)
        if tr.pointee.nat > 0 && rng.unit() < tr.pointee.nat {
            // One NAT address per component, as a gateway's public address:
            // two live flows of one client port that draw the same NAT port
            // have the same reply tuple (Linux's insert_failed).
            f.nat = true
            f.natAddr = v6 ? IPAddress(hi: 0xfd99_0000_0000_0000, lo: 0x200 &+ UInt64(comp)) : IPAddress(v4: 0xc0a8_0001 &+ UInt32(comp))
            f.natPort = UInt16(1 + rng.below(tr.pointee.natPorts))
        }
        f.cseq = UInt32(truncatingIfNeeded: rng.next())
        f.sseq = UInt32(truncatingIfNeeded: rng.next())
        f.rtt = tr.pointee.rtt
        // The ending, by its share.
        f.ending = tr.pointee.endings.pick(rng.unit())
        let e = Int(f.ending.rawValue)
        stats.endings[e] += 1
        // Size: packets, scaled by the popularity rank's weight.
        // Heavy tails (Pareto, lognormal) are cut where a flow would outlast
        // any run: a million packets, ten million seconds.
        var size = min(1e6, max(1, tr.pointee.size.sample(&rng)))
        if case .zipf(let s, let ranks) = tr.pointee.popularity {
            // Ranks in turn: each rank gets as many flows, and its share of
            // the packets is its weight's.
            let r = (stats.started[comp] - 1) % ranks + 1
            f.rank = Int32(r)
            size *= expFast(-s * lnFast(Double(r))) * Double(ranks) / zipfSums[comp]
        }
        let packets = max(1, Int(min(1e7, size).rounded()))
        let life = Int64(min(1e7, max(0, tr.pointee.lifetime.sample(&rng))) * 1e9)
        let p = phase(at: t)
        // Flows outlive their phase unless it ends them, but not the
        // workload: the run ends with its last phase.
        f.stopAt = endsFlows[p.index] ? p.end : end
        if f.udp {
            // Requests and responses in pairs over the lifetime; a
            // half-open UDP flow's requests are never answered.
            f.stage = .request
            f.left = Int32(packets)
            let turns = f.ending == .halfOpen ? packets : (packets + 1) / 2
            f.gap = max(2 * f.rtt, life / Int64(max(1, turns)))
        } else {
            f.stage = .syn
            // The handshake's three packets and the ending's: FIN, FIN,
            // ACK; or the RST; none for the half-open and the idle.
            let closing = f.ending == .finClient || f.ending == .finServer ? 3 : (f.ending == .rst ? 1 : 0)
            f.left = Int32(max(0, packets - 3 - closing))
            f.finAt = t + max(life, 2 * f.rtt + 1)
            f.gap = max(1, (f.finAt - t - 2 * f.rtt) / Int64(f.left + 1))
        }
        let i = newFlowIndex()
        flows[i] = f
        return play(i, at: t, out)
    }

    /// Flow `f`'s packet due at `t` to `out` (false: none, it has
    /// stopped); schedules the next one or ends it.
    mutating func play(_ f: Int, at t: Int64, _ out: UnsafeMutablePointer<Packet>) -> Bool {
        // The flow is advanced where it lies, through the buffer (no copy
        // out and back, no uniqueness check per field).
        var rng = self.rng
        let (next, rank): (Int64, Int32) = flows.withUnsafeMutableBufferPointer { b in
            guard t < b[f].stopAt else { return (-1, 0) }
            let next = Self.step(&b[f], &rng, at: t, out)
            return (next < b[f].stopAt ? next : .max, b[f].rank)
        }
        self.rng = rng
        guard next >= 0 else { endFlow(f); return false }
        if rank > 0 { stats.packetsByRank[Int(rank) - 1] += 1 }
        if next == .max { endFlow(f) } else { schedule(Int32(c + f), at: next) }
        return true
    }

    /// Flow `fl`'s packet at `t` to `out`; returns when its next one is
    /// due (.max: none).
    @inline(__always)
    static func step(_ fl: inout WorkloadFlow, _ rng: inout Xoshiro, at t: Int64, _ out: UnsafeMutablePointer<Packet>) -> Int64 {
        let natInfo: (IPAddress, UInt16)? = fl.nat ? (fl.natAddr, fl.natPort) : nil
        // The flow is passed in, not captured: a nested function capturing
        // an `inout` pays a dynamic exclusivity check per access.
        func client(_ fl: WorkloadFlow, _ flags: TCPFlags, len: UInt16 = 0) {
            out.pointee = Packet(id: fl.id, tcp: TCPSegment(flags: flags, seq: fl.cseq, ack: flags.contains(.ack) ? fl.sseq : 0, window: 65535,
                                               payloadLength: len), hook: .output, timestamp: t, nat: natInfo)
        }
        func server(_ fl: WorkloadFlow, _ flags: TCPFlags, len: UInt16 = 0) {
            out.pointee = Packet(id: fl.nat ? fl.id.redirectedReply(to: fl.natAddr, port: fl.natPort) : fl.id.reversed, tcp: TCPSegment(flags: flags, seq: fl.sseq, ack: fl.cseq, window: 65535, payloadLength: len),
                   hook: .prerouting, timestamp: t)
        }
        var next: Int64 = .max
        switch fl.stage {
        case .request:
            client(fl, [], len: 40)
            fl.left -= 1
            if fl.ending == .halfOpen || fl.left == 0 {
                next = fl.left > 0 ? t + fl.gap : .max
            } else {
                fl.stage = .response
                next = t + fl.rtt
            }
        case .response:
            server(fl, [], len: 120)
            fl.left -= 1
            fl.stage = .request
            next = fl.left > 0 ? t - fl.rtt + fl.gap : .max
        case .syn:
            client(fl, .syn)
            fl.cseq &+= 1
            fl.stage = .synAck
            next = t + fl.rtt
        case .synAck:
            server(fl, [.syn, .ack])
            fl.sseq &+= 1
            fl.stage = .ack
            next = fl.ending == .halfOpen ? .max : t + fl.rtt
        case .ack:
            client(fl, .ack)
            fl.stage = fl.left > 0 ? .data : (fl.ending == .rst ? .rst : .fin1)
            next = fl.left > 0 ? t + fl.gap : (fl.ending == .idle ? .max : max(t + 1, fl.finAt))
        case .data:
            let len = UInt16(64 + rng.below(1336))
            if fl.clientTurn {
                client(fl, [.psh, .ack], len: len)
                fl.cseq &+= UInt32(len)
            } else {
                server(fl, [.psh, .ack], len: len)
                fl.sseq &+= UInt32(len)
            }
            fl.clientTurn.toggle()
            fl.left -= 1
            if fl.left > 0 {
                next = t + fl.gap
            } else {
                fl.stage = fl.ending == .rst ? .rst : .fin1
                next = fl.ending == .idle ? .max : max(t + 1, fl.finAt)
            }
        case .rst:
            client(fl, .rst)
        case .refused:
            // A closed port's answer to a SYN, sent by this host.
            out.pointee = Packet(id: fl.id.reversed, tcp: TCPSegment(flags: [.rst, .ack], seq: 0, ack: fl.cseq), hook: .output, timestamp: t)
        case .fin1:
            if fl.ending == .finServer {
                server(fl, [.fin, .ack])
                fl.sseq &+= 1
            } else {
                client(fl, [.fin, .ack])
                fl.cseq &+= 1
            }
            fl.stage = .fin2
            next = t + fl.rtt
        case .fin2:
            if fl.ending == .finServer {
                client(fl, [.fin, .ack])
                fl.cseq &+= 1
            } else {
                server(fl, [.fin, .ack])
                fl.sseq &+= 1
            }
            fl.stage = .lastAck
            next = t + fl.rtt
        case .lastAck:
            if fl.ending == .finServer { server(fl, .ack) } else { client(fl, .ack) }
        }
        return next
    }

    /// An attack's arrival at `t`: a spoofed SYN or datagram, a scan's SYN
    /// (answered by RST), or a short connection to the one target.
    mutating func attack(_ a: Workload.Attack, _ comp: Int, at t: Int64, _ out: UnsafeMutablePointer<Packet>) -> Bool {
        let target = IPAddress(v4: a.target)
        switch a.kind {
        case .synFlood, .udpFlood:
            // Spoofed sources from 11.0.0.0/8, each stream (of up to 64)
            // its own part.
            let src = IPAddress(v4: 0x0b00_0000 | UInt32(truncatingIfNeeded: rng.next() & 0x3_ffff) | UInt32(stream & 63) << 18)
            let udp = a.kind == .udpFlood
            let id = TupleID(srcAddr: src, srcPort: UInt16(1024 + rng.below(64000)), dstAddr: target, dstPort: udp ? 53 : a.port,
                             transProto: udp ? .udp : .tcp, netProto: .ipv4)
            out.pointee = Packet(id: id, tcp: TCPSegment(flags: udp ? [] : .syn, seq: UInt32(truncatingIfNeeded: rng.next()),
                                                         payloadLength: udp ? 64 : 0), hook: .prerouting, timestamp: t)
            return true
        case .portScan:
            // One scanner per stream walks the ports upwards; each probe
            // is a two-packet flow: the SYN, and the RST of a closed port.
            let n = stats.started[comp]
            var f = WorkloadFlow()
            // Ports from `port` upwards, 1…65535 in turn.
            f.id = TupleID(srcAddr: IPAddress(v4: 0x0c00_0001 &+ UInt32(stream)), srcPort: 40000,
                           dstAddr: target, dstPort: UInt16(1 + (Int(a.port) - 1 + (n - 1)) % 65535),
                           transProto: .tcp, netProto: .ipv4)
            f.cseq = UInt32(truncatingIfNeeded: rng.next())
            f.stage = .syn
            f.ending = .rst
            f.stopAt = end
            let i = newFlowIndex()
            flows[i] = f
            out.pointee = Packet(id: f.id, tcp: TCPSegment(flags: .syn, seq: f.cseq), hook: .prerouting, timestamp: t)
            flows[i].cseq &+= 1
            flows[i].stage = .refused
            schedule(Int32(c + i), at: t + 1_000_000)
            return true
        case .manyToOne:
            var tr = Workload.Traffic(rate: a.rate)
            tr.clients = 64
            tr.servers = 1
            tr.lifetime = .constant(1)
            tr.size = .constant(8)
            var e = Workload.Endings()
            e.finClient = 1; e.finServer = 0; e.rst = 0; e.halfOpen = 0; e.idle = 0
            tr.endings = e
            return withUnsafePointer(to: tr) { startFlow($0, comp, at: t, out, to: (a.target, a.port)) }
        }
    }
}

