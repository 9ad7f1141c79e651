import ConnTrack

// pcapng, Wireshark's default format: a Section Header Block (its magic
// gives the byte order), Interface Description Blocks (link type and
// timestamp resolution per interface) and Enhanced Packet Blocks. Other
// blocks (name resolution, statistics, simple packets, custom) are skipped
// and counted.
extension PcapReader {
    /// One interface of the current section.
    struct Interface {
        var link: UInt32
        /// Timestamp units per second.
        var unitsPerSecond: UInt64
    }

    static func parseNG(_ d: [UInt8], name: String, stats: inout PcapStats) throws(PcapError) -> [Packet] {
        func err(_ off: Int, _ what: String) -> PcapError { PcapError(description: "--pcap \(name): \(what) at byte offset \(off)") }
        var swapped = false
        func u16(_ o: Int) -> UInt16 {
            let le = UInt16(d[o]) | UInt16(d[o + 1]) << 8
            return swapped ? le.byteSwapped : le
        }
        func u32(_ o: Int) -> UInt32 {
            let le = UInt32(d[o]) | UInt32(d[o + 1]) << 8 | UInt32(d[o + 2]) << 16 | UInt32(d[o + 3]) << 24
            return swapped ? le.byteSwapped : le
        }
        var interfaces: [Interface] = []
        var out: [Packet] = []
        var o = 0
        while o < d.count {
            guard o + 12 <= d.count else { throw err(o, "truncated pcapng block header") }
            if d[o] == 0x0a && d[o + 1] == 0x0d && d[o + 2] == 0x0d && d[o + 3] == 0x0a {
                // A new section: its byte-order magic sets the order.
                let magic = UInt32(d[o + 8]) | UInt32(d[o + 9]) << 8 | UInt32(d[o + 10]) << 16 | UInt32(d[o + 11]) << 24
                switch magic {
                case 0x1a2b_3c4d: swapped = false
                case 0x4d3c_2b1a: swapped = true
                default: throw err(o + 8, "bad pcapng byte-order magic 0x\(String(magic, radix: 16))")
                }
                interfaces = []
            }
            let type = u32(o)
            let len = Int(u32(o + 4))
            guard len >= 12, len % 4 == 0 else { throw err(o, "pcapng block length \(len) is not a multiple of 4 of at least 12") }
            guard len <= d.count - o else { throw err(o, "truncated pcapng block (\(len) bytes announced, \(d.count - o) present)") }
            guard Int(u32(o + len - 4)) == len else { throw err(o + len - 4, "pcapng block length trailer does not match its header (\(len))") }
            let body = o + 8, bodyEnd = o + len - 4
            switch type {
            case 0x0a0d_0d0a:
                break
            case 1:  // Interface Description Block
                guard bodyEnd - body >= 8 else { throw err(o, "truncated interface description block") }
                let link = UInt32(u16(body))
                guard supportedLinks.contains(link) else {
                    throw err(body, "interface \(interfaces.count): unsupported link type \(link) (\(linkHelp))")
                }
                var units: UInt64 = 1_000_000
                // Options: if_tsresol (code 9) sets the resolution.
                var p = body + 8
                while p + 4 <= bodyEnd {
                    let code = u16(p), olen = Int(u16(p + 2))
                    if code == 0 { break }
                    guard p + 4 + olen <= bodyEnd else { throw err(p, "truncated interface option \(code)") }
                    if code == 9 && olen >= 1 {
                        let v = d[p + 4]
                        let exp = Int(v & 0x7f)
                        guard exp <= (v & 0x80 != 0 ? 62 : 18) else { throw err(p + 4, "timestamp resolution 0x\(String(v, radix: 16)) out of range") }
                        units = v & 0x80 != 0 ? UInt64(1) << UInt64(exp) : (0..<exp).reduce(UInt64(1)) { a, _ in a * 10 }
                    }
                    p += 4 + ((olen + 3) & ~3)
                }
                interfaces.append(Interface(link: link, unitsPerSecond: units))
            case 6:  // Enhanced Packet Block
                guard bodyEnd - body >= 20 else { throw err(o, "truncated enhanced packet block") }
                let ifc = Int(u32(body))
                guard ifc < interfaces.count else { throw err(body, "packet for interface \(ifc), but \(interfaces.count) interface(s) described") }
                let raw = UInt64(u32(body + 4)) << 32 | UInt64(u32(body + 8))
                let captured = Int(u32(body + 12))
                guard captured <= bodyEnd - (body + 20) else {
                    throw err(body + 12, "captured length \(captured) exceeds the block (\(bodyEnd - body - 20) bytes)")
                }
                let i = interfaces[ifc]
                let secs = raw / i.unitsPerSecond, rest = raw % i.unitsPerSecond
                guard secs < 9_000_000_000 else { throw err(body + 4, "timestamp beyond the year 2255") }
                // rest < units, so rest × 10^9 / units < 10^9 fits.
                let frac = i.unitsPerSecond.dividingFullWidth(rest.multipliedFullWidth(by: 1_000_000_000)).quotient
                let ts = Int64(secs) * 1_000_000_000 + Int64(frac)
                record(d, body + 20, body + 20 + captured, link: i.link, ts: ts, into: &out, &stats)
            default:
                stats.skippedBlocks += 1
            }
            o += len
        }
        return out
    }
}
