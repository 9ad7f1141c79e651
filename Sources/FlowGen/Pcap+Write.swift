import ConnTrack

/// Writes packets as a libpcap file: nanosecond timestamps (magic
/// 0xa1b23c4d), Ethernet link type, valid IPv4/IPv6 and TCP/UDP headers
/// with correct lengths and checksums, zero-filled payloads.
public struct PcapWriter {
    public private(set) var bytes: [UInt8] = []
    /// Added to virtual timestamps so tools show a plausible date.
    public var epochOffset: Int64 = 1_700_000_000 * 1_000_000_000

    public init() {
        le32(0xa1b2_3c4d); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
    }

    mutating func le16(_ v: UInt16) { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
    mutating func le32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }

    static func be16(_ a: inout [UInt8], _ v: UInt16) { a.append(UInt8(v >> 8)); a.append(UInt8(v & 0xff)) }
    static func be32(_ a: inout [UInt8], _ v: UInt32) { for i in (0..<4).reversed() { a.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }

    static func addr(_ a: inout [UInt8], _ x: IPAddress, _ net: NetProto) {
        for i in 0..<(net == .ipv4 ? 4 : 16) { a.append(x.byte(i)) }
    }

    /// Internet checksum over `data` starting from `initial`.
    static func checksum(_ data: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var i = data.startIndex
        while i + 1 < data.endIndex { sum &+= UInt32(data[i]) << 8 | UInt32(data[i + 1]); i += 2 }
        if i < data.endIndex { sum &+= UInt32(data[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The IP packet (no link header) for `p`.
    public static func ipPacket(_ p: Packet) -> [UInt8] {
        let id = p.id
        var l4: [UInt8] = []
        let payload = Int(p.tcp.payloadLength)
        be16(&l4, id.srcPort); be16(&l4, id.dstPort)
        if id.transProto == .tcp {
            be32(&l4, p.tcp.seq); be32(&l4, p.tcp.ack)
            // A window scale option (NOP, then kind 3) when the segment has one.
            let scaled = p.tcp.wscale & 0x80 != 0
            l4.append((scaled ? 6 : 5) << 4); l4.append(p.tcp.flags.rawValue)
            be16(&l4, p.tcp.window); be16(&l4, 0); be16(&l4, 0)
            if scaled { l4 += [1, 3, 3, p.tcp.wscale & 0x0f] }
        } else {
            be16(&l4, UInt16(8 + payload)); be16(&l4, 0)
        }
        l4.append(contentsOf: repeatElement(0, count: payload))
        // Pseudo-header sum.
        var pseudo: [UInt8] = []
        addr(&pseudo, id.srcAddr, id.netProto); addr(&pseudo, id.dstAddr, id.netProto)
        if id.netProto == .ipv4 {
            pseudo.append(0); pseudo.append(id.transProto.rawValue); be16(&pseudo, UInt16(l4.count))
        } else {
            be32(&pseudo, UInt32(l4.count)); pseudo.append(contentsOf: [0, 0, 0, id.transProto.rawValue])
        }
        var c = checksum(ArraySlice(pseudo + l4))
        if id.transProto == .udp && c == 0 { c = 0xffff }
        let off = id.transProto == .tcp ? 16 : 6
        l4[off] = UInt8(c >> 8); l4[off + 1] = UInt8(c & 0xff)
        var ip: [UInt8] = []
        if id.netProto == .ipv4 {
            ip.append(0x45); ip.append(0); be16(&ip, UInt16(20 + l4.count)); be16(&ip, 0); be16(&ip, 0x4000)
            ip.append(64); ip.append(id.transProto.rawValue); be16(&ip, 0)
            addr(&ip, id.srcAddr, .ipv4); addr(&ip, id.dstAddr, .ipv4)
            let hc = checksum(ArraySlice(ip))
            ip[10] = UInt8(hc >> 8); ip[11] = UInt8(hc & 0xff)
        } else {
            be32(&ip, 0x6000_0000); be16(&ip, UInt16(l4.count)); ip.append(id.transProto.rawValue); ip.append(64)
            addr(&ip, id.srcAddr, .ipv6); addr(&ip, id.dstAddr, .ipv6)
        }
        return ip + l4
    }

    /// Hands over the bytes written so far and forgets them (a file is
    /// written piece by piece).
    public mutating func drain() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }

    public mutating func append(_ p: Packet) {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]
        Self.be16(&frame, p.id.netProto.rawValue)
        frame += Self.ipPacket(p)
        let t = p.timestamp + epochOffset
        le32(UInt32(t / 1_000_000_000)); le32(UInt32(t % 1_000_000_000))
        le32(UInt32(frame.count)); le32(UInt32(frame.count))
        bytes += frame
    }
}
