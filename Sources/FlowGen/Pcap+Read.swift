import ConnTrack

/// A capture that cannot be read; the message names the byte offset.
public struct PcapError: Error, CustomStringConvertible {
    public var description: String
}

/// What a replay skipped.
public struct PcapStats: Sendable {
    public var records = 0
    public var used = 0
    public var skippedNotIP = 0
    /// Not TCP or UDP.
    public var skippedProtocol = 0
    /// IPv4 fragments after the first (no transport header).
    public var skippedFragment = 0
    public var skippedMalformed = 0
    /// pcapng blocks other than section, interface and enhanced packet
    /// blocks (skipped).
    public var skippedBlocks = 0
    /// Packets whose timestamp is earlier than one before them in the file
    /// (replayed in timestamp order).
    public var outOfOrder = 0
    public init() {}
}

/// Reads libpcap files (µs or ns, either byte order) over Ethernet (with
/// 802.1Q tags), raw IP (101), or IPv4/IPv6 link types (228/229).
public enum PcapReader {
    public static func read(path: String) throws(PcapError) -> [Packet] {
        var stats = PcapStats()
        return try read(path: path, stats: &stats)
    }

    public static func read(path: String, stats: inout PcapStats) throws(PcapError) -> [Packet] {
        // Only a regular file: a FIFO would block the open forever and a
        // device like /dev/zero would grow memory without end.
        var st = stat()
        guard stat(path, &st) == 0 else { throw PcapError(description: "--pcap: cannot open '\(path)': \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PcapError(description: "--pcap: '\(path)' is not a regular file (a FIFO, device or directory cannot be replayed)")
        }
        guard let f = fopen(path, "rb") else { throw PcapError(description: "--pcap: cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return try parse(data, name: path, stats: &stats)
    }

    public static func parse(_ d: [UInt8], name: String, stats: inout PcapStats) throws(PcapError) -> [Packet] {
        func err(_ off: Int, _ what: String) -> PcapError { PcapError(description: "--pcap \(name): \(what) at byte offset \(off)") }
        // pcapng (Wireshark's default) starts with a Section Header Block.
        if d.count >= 4 && d[0] == 0x0a && d[1] == 0x0d && d[2] == 0x0d && d[3] == 0x0a {
            return ordered(try parseNG(d, name: name, stats: &stats), &stats)
        }
        guard d.count >= 24 else { throw err(0, "truncated global header (\(d.count) of 24 bytes)") }
        let magicLE = UInt32(d[0]) | UInt32(d[1]) << 8 | UInt32(d[2]) << 16 | UInt32(d[3]) << 24
        var swapped = false, nanos = false
        switch magicLE {
        case 0xa1b2_c3d4: break
        case 0xa1b2_3c4d: nanos = true
        case 0xd4c3_b2a1: swapped = true
        case 0x4d3c_b2a1: swapped = true; nanos = true
        default: throw err(0, "not a libpcap file (magic 0x\(String(magicLE, radix: 16)))")
        }
        func u32(_ o: Int) -> UInt32 {
            let le = UInt32(d[o]) | UInt32(d[o + 1]) << 8 | UInt32(d[o + 2]) << 16 | UInt32(d[o + 3]) << 24
            return swapped ? le.byteSwapped : le
        }
        let link = u32(20) & 0x0fff_ffff
        guard supportedLinks.contains(link) else { throw err(20, "unsupported link type \(link) (\(linkHelp))") }
        var out: [Packet] = []
        var o = 24
        while o < d.count {
            guard o + 16 <= d.count else { throw err(o, "truncated record header") }
            let sec = Int64(u32(o)), frac = Int64(u32(o + 4))
            let incl = Int(u32(o + 8))
            guard incl <= 262_144 else { throw err(o, "record length \(incl) exceeds 262144") }
            guard o + 16 + incl <= d.count else { throw err(o, "truncated record (\(incl) bytes announced, \(d.count - o - 16) present)") }
            let ts = sec * 1_000_000_000 + (nanos ? frac : frac * 1000)
            let end = o + 16 + incl
            record(d, o + 16, end, link: link, ts: ts, into: &out, &stats)
            o = end
        }
        return ordered(out, &stats)
    }

    /// Link types a capture may use.
    static let supportedLinks: [UInt32] = [1, 101, 228, 229]
    static let linkHelp = "supported: 1 Ethernet, 101 raw IP, 228 IPv4, 229 IPv6"

    /// Decodes one captured frame [p, end) of link type `link` and counts it.
    static func record(_ d: [UInt8], _ start: Int, _ end: Int, link: UInt32, ts: Int64, into out: inout [Packet],
                       _ stats: inout PcapStats) {
        stats.records += 1
        var p = start
        var ethType: UInt16
        if link == 1 {
            guard end - p >= 14 else { stats.skippedMalformed += 1; return }
            ethType = UInt16(d[p + 12]) << 8 | UInt16(d[p + 13])
            p += 14
            while ethType == 0x8100 || ethType == 0x88a8, p + 4 <= end {
                ethType = UInt16(d[p + 2]) << 8 | UInt16(d[p + 3]); p += 4
            }
        } else if link == 228 { ethType = 0x0800 } else if link == 229 { ethType = 0x86dd } else {
            ethType = p < end ? (d[p] >> 4 == 6 ? 0x86dd : 0x0800) : 0
        }
        switch decode(d, p, end, ethType, ts) {
        case .packet(let pk): out.append(pk); stats.used += 1
        case .notIP: stats.skippedNotIP += 1
        case .otherProtocol: stats.skippedProtocol += 1
        case .fragment: stats.skippedFragment += 1
        case .malformed: stats.skippedMalformed += 1
        }
    }

    /// Packets in timestamp order, ties in file order (a stable sort):
    /// replay and the deterministic mode both promise it.
    static func ordered(_ packets: [Packet], _ stats: inout PcapStats) -> [Packet] {
        var out = packets
        var later = Int64.min
        for p in out { if p.timestamp < later { stats.outOfOrder += 1 } else { later = p.timestamp } }
        if stats.outOfOrder > 0 {
            out = out.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
        }
        return out
    }

    enum Decoded { case packet(Packet), notIP, otherProtocol, fragment, malformed }

    static func decode(_ d: [UInt8], _ start: Int, _ end: Int, _ ethType: UInt16, _ ts: Int64) -> Decoded {
        var p = start
        func be16(_ o: Int) -> UInt16 { UInt16(d[o]) << 8 | UInt16(d[o + 1]) }
        func be32(_ o: Int) -> UInt32 { UInt32(be16(o)) << 16 | UInt32(be16(o + 2)) }
        func be64(_ o: Int) -> UInt64 { UInt64(be32(o)) << 32 | UInt64(be32(o + 4)) }
        let net: NetProto
        let proto: UInt8
        var src = IPAddress(hi: 0, lo: 0), dst = IPAddress(hi: 0, lo: 0)
        var l4len: Int
        if ethType == 0x0800 {
            guard end - p >= 20, d[p] >> 4 == 4 else { return .malformed }
            let ihl = Int(d[p] & 0x0f) * 4
            let total = Int(be16(p + 2))
            guard ihl >= 20, end - p >= ihl, total >= ihl else { return .malformed }
            // Fragments after the first carry no transport header.
            if be16(p + 6) & 0x1fff != 0 { return .fragment }
            net = .ipv4; proto = d[p + 9]
            src = IPAddress(v4: be32(p + 12)); dst = IPAddress(v4: be32(p + 16))
            // From the IP header, not the captured bytes: a capture cut at
            // its snaplen still carries the segment's real length.
            l4len = total - ihl
            p += ihl
        } else if ethType == 0x86dd {
            guard end - p >= 40, d[p] >> 4 == 6 else { return .malformed }
            net = .ipv6; proto = d[p + 6]
            src = IPAddress(hi: be64(p + 8), lo: be64(p + 16)); dst = IPAddress(hi: be64(p + 24), lo: be64(p + 32))
            l4len = Int(be16(p + 4))
            p += 40
        } else {
            return .notIP
        }
        guard let tp = TransProto(rawValue: proto) else { return .otherProtocol }
        let id0 = { (sp: UInt16, dp: UInt16) in
            TupleID(srcAddr: src, srcPort: sp, dstAddr: dst, dstPort: dp, transProto: tp, netProto: net)
        }
        if tp == .tcp {
            guard l4len >= 20, end - p >= 20 else { return .malformed }
            let off = Int(d[p + 12] >> 4) * 4
            guard off >= 20, off <= l4len else { return .malformed }
            let id = id0(be16(p), be16(p + 2))
            let seg = TCPSegment(flags: TCPFlags(rawValue: d[p + 13]), seq: be32(p + 4), ack: be32(p + 8),
                                 window: be16(p + 14), payloadLength: UInt16(clamping: l4len - off))
            return .packet(Packet(id: id, tcp: seg, hook: hook(id), timestamp: ts))
        }
        guard l4len >= 8, end - p >= 8 else { return .malformed }
        let id = id0(be16(p), be16(p + 2))
        return .packet(Packet(id: id, tcp: TCPSegment(flags: [], seq: 0, payloadLength: UInt16(clamping: l4len - 8)),
                              hook: hook(id), timestamp: ts))
    }

    /// Captures carry no hook: the side sending to the lower port is taken
    /// as the local client (output hook), the other as prerouting.
    static func hook(_ id: TupleID) -> Hook {
        if id.dstPort != id.srcPort { return id.dstPort < id.srcPort ? .output : .prerouting }
        return (id.srcAddr.hi, id.srcAddr.lo) < (id.dstAddr.hi, id.dstAddr.lo) ? .output : .prerouting
    }

    /// Worker for a packet: both directions of a flow go to the same one.
    public static func shard(_ p: Packet, _ n: Int) -> Int {
        let a = p.id.srcAddr.hi ^ p.id.srcAddr.lo ^ UInt64(p.id.srcPort)
        let b = p.id.dstAddr.hi ^ p.id.dstAddr.lo ^ UInt64(p.id.dstPort)
        var x = (a ^ b) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(x % UInt64(n))
    }
}

#if canImport(Glibc)
import Glibc
#endif
