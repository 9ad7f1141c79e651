import ConnTrack

/// A capture that cannot be read; the message names the byte offset.
public struct PcapError: Error, CustomStringConvertible {
    public var description: String
    /// What is wrong, without the file's name and the offset.
    public var what: String
    /// Byte offset of the bad record (nil: not about one place).
    public var offset: Int?
    /// The file ends inside this record: it was cut short, the records
    /// before it are whole (`--allow-truncated` replays them).
    public var cut = false

    public init(description: String) {
        self.description = description
        what = description
    }

    init(name: String, what: String, offset: Int, cut: Bool = false) {
        description = "--pcap \(name): \(what) at byte offset \(offset)"
        self.what = what
        self.offset = offset
        self.cut = cut
    }
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
    /// Distinct flows among the packets used, both directions of a
    /// connection counted once (`FlowCount`: estimated, within about 1 %;
    /// nil when not counted). A replay sizes the table for them.
    public var flows: Int? = nil
    public init() {}
}

/// Reads libpcap files (µs or ns, either byte order) over Ethernet (with
/// 802.1Q tags), raw IP (101), or IPv4/IPv6 link types (228/229).
public enum PcapReader {
    /// Reads a whole capture into memory (tests, small files); runs
    /// stream a capture instead (`Capture`).
    public static func read(path: String) throws(PcapError) -> [Packet] {
        var stats = PcapStats()
        return try read(path: path, stats: &stats)
    }

    public static func read(path: String, stats: inout PcapStats) throws(PcapError) -> [Packet] {
        let file = try FileSource(path: path)
        return try collect(CaptureCursor(FileWindow(file, size: file.size), name: path), &stats)
    }

    /// Parses a capture held in memory: every packet, in timestamp order.
    public static func parse(_ d: [UInt8], name: String, stats: inout PcapStats) throws(PcapError) -> [Packet] {
        try collect(CaptureCursor(MemorySource(bytes: d), name: name), &stats)
    }

    static func collect<S: ByteSource>(_ c: CaptureCursor<S>, _ stats: inout PcapStats) throws(PcapError) -> [Packet] {
        var c = c
        var out: [Packet] = []
        var flows = FlowCount()
        while let r = try c.next(&stats) {
            if let p = count(frame(r.data, link: r.link, ts: r.timestamp), &stats) {
                out.append(p)
                flows.add(p.id)
            }
        }
        stats.flows = flows.estimate
        return ordered(out, &stats)
    }

    /// Link types a capture may use.
    static let supportedLinks: [UInt32] = [1, 101, 228, 229]
    static let linkHelp = "supported: 1 Ethernet, 101 raw IP, 228 IPv4, 229 IPv6"

    /// Counts one decoded record in `stats`; the packet, if it is one.
    @inline(__always)
    static func count(_ d: Decoded, _ stats: inout PcapStats) -> Packet? {
        stats.records += 1
        switch d {
        case .packet(let pk): stats.used += 1; return pk
        case .notIP: stats.skippedNotIP += 1
        case .otherProtocol: stats.skippedProtocol += 1
        case .fragment: stats.skippedFragment += 1
        case .malformed: stats.skippedMalformed += 1
        }
        return nil
    }

    /// Decodes one captured frame of link type `link`.
    @inline(__always)
    static func frame(_ d: UnsafeRawBufferPointer, link: UInt32, ts: Int64) -> Decoded {
        var p = 0
        let end = d.count
        var ethType: UInt16
        if link == 1 {
            guard end - p >= 14 else { return .malformed }
            ethType = UInt16(d[p + 12]) << 8 | UInt16(d[p + 13])
            p += 14
            while ethType == 0x8100 || ethType == 0x88a8, p + 4 <= end {
                ethType = UInt16(d[p + 2]) << 8 | UInt16(d[p + 3]); p += 4
            }
        } else if link == 228 { ethType = 0x0800 } else if link == 229 { ethType = 0x86dd } else {
            ethType = p < end ? (d[p] >> 4 == 6 ? 0x86dd : 0x0800) : 0
        }
        return decode(d, p, end, ethType, ts)
    }

    /// Packets in timestamp order, ties in file order (a stable sort):
    /// replay and the deterministic mode both promise it.
    static func ordered(_ packets: [Packet], _ stats: inout PcapStats) -> [Packet] {
        var later = Int64.min
        for p in packets { countOrder(p.timestamp, after: &later, &stats) }
        return stats.outOfOrder > 0 ? stableSorted(packets, by: \.timestamp) : packets
    }

    /// Counts a timestamp earlier than one before it (`later`: the latest so far).
    @inline(__always)
    static func countOrder(_ t: Int64, after later: inout Int64, _ stats: inout PcapStats) {
        if t < later { stats.outOfOrder += 1 } else { later = t }
    }

    /// Sorted by timestamp, ties in their original order.
    static func stableSorted<T>(_ items: [T], by ts: (T) -> Int64) -> [T] {
        items.enumerated().sorted { (ts($0.element), $0.offset) < (ts($1.element), $1.offset) }.map(\.element)
    }

    enum Decoded { case packet(Packet), notIP, otherProtocol, fragment, malformed }

    static func decode(_ d: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ ethType: UInt16, _ ts: Int64) -> Decoded {
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
            let flags = TCPFlags(rawValue: d[p + 13])
            let seg = TCPSegment(flags: flags, seq: be32(p + 4), ack: be32(p + 8),
                                 window: be16(p + 14), payloadLength: UInt16(clamping: l4len - off),
                                 wscale: flags.contains(.syn) ? windowScale(d, p + 20, min(p + off, end)) : 0)
            return .packet(Packet(id: id, tcp: seg, hook: hook(id), timestamp: ts))
        }
        guard l4len >= 8, end - p >= 8 else { return .malformed }
        let id = id0(be16(p), be16(p + 2))
        return .packet(Packet(id: id, tcp: TCPSegment(flags: [], seq: 0, payloadLength: UInt16(clamping: l4len - 8)),
                              hook: hook(id), timestamp: ts))
    }

    /// The window scale option of a SYN's options in `d[start..<end]`, as
    /// OVS's tracker keeps it (`tcp_get_wscale`: the shift capped at 14,
    /// with 0x80 set; 0 without the option). Options cut off by the
    /// capture's snaplen end the walk.
    static func windowScale(_ d: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt8 {
        var o = start, scale: UInt8 = 0
        while end - o >= 3 {
            switch d[o] {
            case 0: return scale
            case 1: o += 1
            default:
                if d[o] == 3 { scale = min(d[o + 2], 14) | 0x80 }
                o += max(Int(d[o + 1]), 2)
            }
        }
        return scale
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
