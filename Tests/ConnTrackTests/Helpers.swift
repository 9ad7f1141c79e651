@testable import ConnTrack

let sec = Duration_ns.second

func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress {
    IPAddress(v4: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
}

func tcpTuple(_ src: IPAddress, _ sp: UInt16, _ dst: IPAddress, _ dp: UInt16) -> TupleID {
    TupleID(srcAddr: src, srcPort: sp, dstAddr: dst, dstPort: dp, transProto: .tcp, netProto: .ipv4)
}

/// A client's packet (original direction, output hook).
func out(_ id: TupleID, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: UInt16 = 0, nat: (IPAddress, UInt16)? = nil) -> Packet {
    Packet(id: id, tcp: TCPSegment(flags: flags, seq: seq, ack: ack, window: 65535, payloadLength: len), hook: .output, nat: nat)
}

/// A server's packet (reply direction, prerouting hook).
func inb(_ id: TupleID, _ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, len: UInt16 = 0) -> Packet {
    Packet(id: id, tcp: TCPSegment(flags: flags, seq: seq, ack: ack, window: 65535, payloadLength: len), hook: .prerouting)
}

func makeTable(_ variant: Variant = .seed2020, buckets: Int = 1 << 14, faults: Set<Fault> = [],
               timeouts: Timeouts = Timeouts(), limit: Int? = nil) -> BucketTable {
    BucketTable(TableConfig(buckets: buckets, hashSeed: 0x1234_5678, variant: variant, faults: faults,
                            timeouts: timeouts, maxConnections: limit))
}

func ctx(_ name: String = "test") -> WorkerContext { WorkerContext(name: name, checkLockOrder: true) }

/// Runs the full handshake of a client tuple through the table at `now`.
func handshake(_ t: BucketTable, _ id: TupleID, now: Int64, _ c: inout WorkerContext) {
    let clock = VirtualClock(now)
    _ = t.handlePacket(out(id, .syn, seq: 1000), clock: clock, &c)
    _ = t.handlePacket(inb(id.reversed, [.syn, .ack], seq: 5000, ack: 1001), clock: clock, &c)
    _ = t.handlePacket(out(id, .ack, seq: 1001, ack: 5001), clock: clock, &c)
}
