#if canImport(Glibc)
import Glibc
#endif

/// Bytes read in order from a file or from memory.
protocol ByteSource {
    /// Bytes in the source (a file's size when it was opened).
    var size: Int { get }
    /// Reads `count` bytes from `offset` into `buf[0..<count]`; false when
    /// fewer are there.
    mutating func read(at offset: Int, count: Int, into buf: inout [UInt8]) -> Bool
}

struct MemorySource: ByteSource {
    let bytes: [UInt8]
    var size: Int { bytes.count }
    func read(at offset: Int, count: Int, into buf: inout [UInt8]) -> Bool {
        guard offset >= 0, count >= 0, offset + count <= bytes.count else { return false }
        if buf.count < count { buf = [UInt8](repeating: 0, count: count) }
        for i in 0..<count { buf[i] = bytes[offset + i] }
        return true
    }
}

/// A regular file, read with `pread` (so several cursors may share it).
final class FileSource: ByteSource {
    let fd: Int32
    let size: Int
    init(path: String) throws(PcapError) {
        // Only a regular file: a FIFO would block the open forever and a
        // device like /dev/zero would grow memory without end.
        var st = stat()
        guard stat(path, &st) == 0 else { throw PcapError(description: "--pcap: cannot open '\(path)': \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PcapError(description: "--pcap: '\(path)' is not a regular file (a FIFO, device or directory cannot be replayed)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw PcapError(description: "--pcap: cannot open '\(path)': \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.size = Int(st.st_size)
    }
    deinit { close(fd) }

    func read(at offset: Int, count: Int, into buf: inout [UInt8]) -> Bool {
        guard offset >= 0, count >= 0 else { return false }
        if buf.count < count { buf = [UInt8](repeating: 0, count: max(count, 2 * buf.count)) }
        var done = 0
        while done < count {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}

/// One packet record of a capture: its timestamp (ns), its link type, its
/// captured bytes in the cursor's buffer, and where they are in the file.
struct CaptureRecord {
    var timestamp: Int64
    var link: UInt32
    var length: Int
    /// Byte offset of the captured bytes.
    var dataOffset: Int
}

/// Reads a libpcap or pcapng capture record by record, holding one record
/// in memory: the structure is checked as it goes, and an error names the
/// byte offset of what is wrong.
struct CaptureCursor<Source: ByteSource> {
    enum Format {
        case pcap(swapped: Bool, nanos: Bool, link: UInt32)
        /// pcapng: the byte order of the current section and its interfaces.
        case pcapng(swapped: Bool, interfaces: [PcapReader.Interface])
    }

    var source: Source
    let name: String
    var format: Format
    /// Offset of the next record or block.
    var offset: Int
    /// The current record's bytes (and scratch for headers).
    var buf: [UInt8] = [UInt8](repeating: 0, count: 1 << 12)

    func err(_ off: Int, _ what: String) -> PcapError { PcapError(description: "--pcap \(name): \(what) at byte offset \(off)") }

    init(_ source: Source, name: String) throws(PcapError) {
        self.source = source
        self.name = name
        var head = [UInt8](repeating: 0, count: 24)
        let size = source.size
        let n = min(size, 24)
        _ = self.source.read(at: 0, count: n, into: &head)
        // pcapng (Wireshark's default) starts with a Section Header Block.
        if n >= 4 && head[0] == 0x0a && head[1] == 0x0d && head[2] == 0x0d && head[3] == 0x0a {
            format = .pcapng(swapped: false, interfaces: [])
            offset = 0
            return
        }
        guard n >= 24 else { throw PcapError(description: "--pcap \(name): truncated global header (\(size) of 24 bytes) at byte offset 0") }
        let magicLE = UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24
        var swapped = false, nanos = false
        switch magicLE {
        case 0xa1b2_c3d4: break
        case 0xa1b2_3c4d: nanos = true
        case 0xd4c3_b2a1: swapped = true
        case 0x4d3c_b2a1: swapped = true; nanos = true
        default: throw PcapError(description: "--pcap \(name): not a libpcap file (magic 0x\(String(magicLE, radix: 16))) at byte offset 0")
        }
        let le = UInt32(head[20]) | UInt32(head[21]) << 8 | UInt32(head[22]) << 16 | UInt32(head[23]) << 24
        let link = (swapped ? le.byteSwapped : le) & 0x0fff_ffff
        guard PcapReader.supportedLinks.contains(link) else {
            throw PcapError(description: "--pcap \(name): unsupported link type \(link) (\(PcapReader.linkHelp)) at byte offset 20")
        }
        format = .pcap(swapped: swapped, nanos: nanos, link: link)
        offset = 24
    }

    @inline(__always)
    func u16(_ o: Int, _ swapped: Bool) -> UInt16 {
        let le = UInt16(buf[o]) | UInt16(buf[o + 1]) << 8
        return swapped ? le.byteSwapped : le
    }

    @inline(__always)
    func u32(_ o: Int, _ swapped: Bool) -> UInt32 {
        let le = UInt32(buf[o]) | UInt32(buf[o + 1]) << 8 | UInt32(buf[o + 2]) << 16 | UInt32(buf[o + 3]) << 24
        return swapped ? le.byteSwapped : le
    }

    /// The next packet record, its bytes in `buf[0..<length]`; nil at the
    /// end. Other pcapng blocks are counted in `stats` and skipped.
    mutating func next(_ stats: inout PcapStats) throws(PcapError) -> CaptureRecord? {
        switch format {
        case .pcap(let swapped, let nanos, let link):
            let size = source.size
            guard offset < size else { return nil }
            let o = offset
            guard o + 16 <= size, source.read(at: o, count: 16, into: &buf) else { throw err(o, "truncated record header") }
            let sec = Int64(u32(0, swapped)), frac = Int64(u32(4, swapped))
            let incl = Int(u32(8, swapped))
            guard incl <= 262_144 else { throw err(o, "record length \(incl) exceeds 262144") }
            guard o + 16 + incl <= size, source.read(at: o + 16, count: incl, into: &buf) else {
                throw err(o, "truncated record (\(incl) bytes announced, \(max(0, size - o - 16)) present)")
            }
            offset = o + 16 + incl
            return CaptureRecord(timestamp: sec * 1_000_000_000 + (nanos ? frac : frac * 1000), link: link, length: incl,
                                 dataOffset: o + 16)
        case .pcapng:
            while true {
                guard let r = try nextBlock(&stats) else { return nil }
                if let r { return r }
            }
        }
    }

    /// One pcapng block: a packet record, `.some(nil)` for another block,
    /// nil at the end of the file.
    private mutating func nextBlock(_ stats: inout PcapStats) throws(PcapError) -> CaptureRecord?? {
        guard case .pcapng(var swapped, var interfaces) = format else { return nil }
        let size = source.size
        let o = offset
        guard o < size else { return nil }
        guard o + 12 <= size, source.read(at: o, count: 12, into: &buf) else { throw err(o, "truncated pcapng block header") }
        if buf[0] == 0x0a && buf[1] == 0x0d && buf[2] == 0x0d && buf[3] == 0x0a {
            // A new section: its byte-order magic sets the order.
            let magic = UInt32(buf[8]) | UInt32(buf[9]) << 8 | UInt32(buf[10]) << 16 | UInt32(buf[11]) << 24
            switch magic {
            case 0x1a2b_3c4d: swapped = false
            case 0x4d3c_2b1a: swapped = true
            default: throw err(o + 8, "bad pcapng byte-order magic 0x\(String(magic, radix: 16))")
            }
            interfaces = []
        }
        let type = u32(0, swapped)
        let len = Int(u32(4, swapped))
        guard len >= 12, len % 4 == 0 else { throw err(o, "pcapng block length \(len) is not a multiple of 4 of at least 12") }
        guard len <= size - o else { throw err(o, "truncated pcapng block (\(len) bytes announced, \(size - o) present)") }
        guard source.read(at: o, count: len, into: &buf) else { throw err(o, "truncated pcapng block (\(len) bytes announced)") }
        guard Int(u32(len - 4, swapped)) == len else { throw err(o + len - 4, "pcapng block length trailer does not match its header (\(len))") }
        offset = o + len
        defer { format = .pcapng(swapped: swapped, interfaces: interfaces) }
        let body = 8, bodyEnd = len - 4
        switch type {
        case 0x0a0d_0d0a:
            return .some(nil)
        case 1:  // Interface Description Block
            guard bodyEnd - body >= 8 else { throw err(o, "truncated interface description block") }
            let link = UInt32(u16(body, swapped))
            guard PcapReader.supportedLinks.contains(link) else {
                throw err(o + body, "interface \(interfaces.count): unsupported link type \(link) (\(PcapReader.linkHelp))")
            }
            var units: UInt64 = 1_000_000
            // Options: if_tsresol (code 9) sets the resolution.
            var p = body + 8
            while p + 4 <= bodyEnd {
                let code = u16(p, swapped), olen = Int(u16(p + 2, swapped))
                if code == 0 { break }
                guard p + 4 + olen <= bodyEnd else { throw err(o + p, "truncated interface option \(code)") }
                if code == 9 && olen >= 1 {
                    let v = buf[p + 4]
                    let exp = Int(v & 0x7f)
                    guard exp <= (v & 0x80 != 0 ? 62 : 18) else { throw err(o + p + 4, "timestamp resolution 0x\(String(v, radix: 16)) out of range") }
                    units = v & 0x80 != 0 ? UInt64(1) << UInt64(exp) : (0..<exp).reduce(UInt64(1)) { a, _ in a * 10 }
                }
                p += 4 + ((olen + 3) & ~3)
            }
            interfaces.append(PcapReader.Interface(link: link, unitsPerSecond: units))
            return .some(nil)
        case 6:  // Enhanced Packet Block
            guard bodyEnd - body >= 20 else { throw err(o, "truncated enhanced packet block") }
            let ifc = Int(u32(body, swapped))
            guard ifc < interfaces.count else { throw err(o + body, "packet for interface \(ifc), but \(interfaces.count) interface(s) described") }
            let raw = UInt64(u32(body + 4, swapped)) << 32 | UInt64(u32(body + 8, swapped))
            let captured = Int(u32(body + 12, swapped))
            guard captured <= bodyEnd - (body + 20) else {
                throw err(o + body + 12, "captured length \(captured) exceeds the block (\(bodyEnd - body - 20) bytes)")
            }
            let i = interfaces[ifc]
            let secs = raw / i.unitsPerSecond, rest = raw % i.unitsPerSecond
            guard secs < 9_000_000_000 else { throw err(o + body + 4, "timestamp beyond the year 2255") }
            // rest < units, so rest × 10^9 / units < 10^9 fits.
            let frac = i.unitsPerSecond.dividingFullWidth(rest.multipliedFullWidth(by: 1_000_000_000)).quotient
            // The packet's bytes move to the front of the buffer.
            let start = body + 20
            for k in 0..<captured { buf[k] = buf[start + k] }
            return .some(CaptureRecord(timestamp: Int64(secs) * 1_000_000_000 + Int64(frac), link: i.link,
                                       length: captured, dataOffset: o + start))
        default:
            stats.skippedBlocks += 1
            return .some(nil)
        }
    }
}
