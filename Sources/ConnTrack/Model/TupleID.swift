/// Network protocol numbers as the seed hashes them (EtherType values).
public enum NetProto: UInt16, Sendable, Codable {
    case ipv4 = 0x0800
    case ipv6 = 0x86dd
}

/// Transport protocol numbers (IANA).
public enum TransProto: UInt8, Sendable, Codable {
    case tcp = 6
    case udp = 17
}

/// An IPv4 or IPv6 address held inline (no allocation). Bytes are in
/// network order: the first byte of the address is the top byte of `hi`;
/// an IPv4 address lives in the top 32 bits of `hi` and `lo` is zero.
public struct IPAddress: Hashable, Sendable, Codable {
    public var hi: UInt64
    public var lo: UInt64

    @inlinable public init(hi: UInt64, lo: UInt64) { self.hi = hi; self.lo = lo }

    @inlinable public init(v4 value: UInt32) { self.hi = UInt64(value) << 32; self.lo = 0 }

    @inlinable public var v4: UInt32 { UInt32(truncatingIfNeeded: hi >> 32) }

    /// Byte `i` of the address in network order (0...15).
    @inlinable public func byte(_ i: Int) -> UInt8 {
        i < 8 ? UInt8(truncatingIfNeeded: hi >> UInt64(56 - 8 * i))
              : UInt8(truncatingIfNeeded: lo >> UInt64(56 - 8 * (i - 8)))
    }
}

/// Identifies a connection in one direction: the seed's `tupleID`.
public struct TupleID: Hashable, Sendable, Codable {
    public var srcAddr: IPAddress
    public var dstAddr: IPAddress
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var transProto: TransProto
    public var netProto: NetProto

    @inlinable
    public init(srcAddr: IPAddress, srcPort: UInt16, dstAddr: IPAddress, dstPort: UInt16,
                transProto: TransProto, netProto: NetProto) {
        self.srcAddr = srcAddr; self.srcPort = srcPort
        self.dstAddr = dstAddr; self.dstPort = dstPort
        self.transProto = transProto; self.netProto = netProto
    }

    /// The tuple seen in the opposite direction (the seed's `reply()`).
    @inlinable public var reversed: TupleID {
        TupleID(srcAddr: dstAddr, srcPort: dstPort, dstAddr: srcAddr, dstPort: srcPort,
                transProto: transProto, netProto: netProto)
    }

    /// The reply tuple of a connection whose original tuple is `self` and
    /// whose destination is redirected to `addr:port` (the seed's NAT
    /// redirect: the reply comes from the redirect target).
    @inlinable public func redirectedReply(to addr: IPAddress, port: UInt16) -> TupleID {
        TupleID(srcAddr: addr, srcPort: port, dstAddr: srcAddr, dstPort: srcPort,
                transProto: transProto, netProto: netProto)
    }

    /// Address length in bytes, as the seed's `tcpip.Address` carries it.
    @inlinable public var addressLength: Int { netProto == .ipv4 ? 4 : 16 }
}

extension IPAddress {
    /// Text form for reports and errors (no Foundation).
    public func formatted(_ net: NetProto) -> String {
        if net == .ipv4 { return (0..<4).map { String(byte($0)) }.joined(separator: ".") }
        return (0..<8).map { i -> String in
            String((UInt16(byte(2 * i)) << 8) | UInt16(byte(2 * i + 1)), radix: 16)
        }.joined(separator: ":")
    }

    /// Parses dotted IPv4 or full/compressed IPv6 text; nil when malformed.
    public static func parse(_ text: String) -> (IPAddress, NetProto)? {
        guard text.contains(":") else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard let b = UInt8(p) else { return nil }
                v = (v << 8) | UInt32(b)
            }
            return (IPAddress(v4: v), .ipv4)
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for part in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !part.isEmpty, part.count <= 4, let v = UInt16(part, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        var g: [UInt16]
        switch halves.count {
        case 1:
            guard let a = groups(halves[0]), a.count == 8 else { return nil }
            g = a
        case 2:
            guard let a = groups(halves[0]), let b = groups(halves[1]), a.count + b.count < 8 else { return nil }
            g = a + Array(repeating: 0, count: 8 - a.count - b.count) + b
        default:
            return nil
        }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = (hi << 16) | UInt64(g[i]) }
        for i in 4..<8 { lo = (lo << 16) | UInt64(g[i]) }
        return (IPAddress(hi: hi, lo: lo), .ipv6)
    }
}

extension TupleID: CustomStringConvertible {
    public var description: String {
        let p = transProto == .tcp ? "tcp" : "udp"
        return "\(p) \(srcAddr.formatted(netProto)):\(srcPort) -> \(dstAddr.formatted(netProto)):\(dstPort)"
    }
}
