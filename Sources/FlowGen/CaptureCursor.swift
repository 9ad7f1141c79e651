#if canImport(Glibc)
import Glibc
#endif

/// Bytes of a file or of memory, handed out as views.
protocol ByteSource {
    /// Bytes in the source (for a file: where its reading stops).
    var size: Int { get }
    /// A view of bytes [offset, offset + count), valid until the next call;
    /// nil when they are not all there.
    mutating func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer?
    /// Why the last `bytes` failed when it was not the end of the data: an
    /// errno (nil: the data ended early).
    var readError: Int32? { get }
}

/// A copy of bytes held in memory (tests, `PcapReader.parse`).
final class MemorySource: ByteSource {
    let buf: UnsafeMutableRawBufferPointer
    var size: Int { buf.count }
    var readError: Int32? { nil }
    init(bytes: [UInt8]) {
        buf = .allocate(byteCount: bytes.count, alignment: 8)
        bytes.withUnsafeBytes { if $0.count > 0 { buf.copyMemory(from: $0) } }
    }
    deinit { buf.deallocate() }
    func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= buf.count, count <= buf.count - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: buf[offset..<offset + count])
    }
}

/// A regular file opened for reading; shared by the readers of a capture
/// (`pread` keeps no file position).
final class FileSource: @unchecked Sendable {
    let fd: Int32
    /// The size when it was opened.
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
        // The file may have been replaced between stat and open.
        var st2 = stat()
        guard fstat(fd, &st2) == 0, (st2.st_mode & S_IFMT) == S_IFREG else {
            let e = errno
            _ = close(fd)
            throw PcapError(description: "--pcap: cannot read '\(path)': \(String(cString: strerror(e)))")
        }
        self.fd = fd
        self.size = Int(st2.st_size)
    }
    // A read-only descriptor: close has nothing to report that matters.
    deinit { _ = close(fd) }

    /// Reads `count` bytes at `offset` into `p`: the bytes read (fewer only
    /// where the file ends), or -errno.
    func read(into p: UnsafeMutableRawPointer, count: Int, at offset: Int) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, p + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                return -Int(errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// Reads a file through a buffer filled by large `pread`s, handing out
/// views into it: a record costs no system call of its own. The file is
/// read, not mapped: a file cut short while it is read gives a short read
/// (the replay ends with a warning), where a mapping would raise SIGBUS on
/// the vanished pages, which no check made before touching them can rule
/// out (the file can shrink between the check and the access).
final class FileWindow: ByteSource {
    let file: FileSource
    /// Where reading stops: the file's size when it was checked, or the
    /// end of its last whole record.
    let size: Int
    /// Reads for a sorted index: records come nearly, not exactly, in file
    /// order, so a window reaches back a little and its size adapts to
    /// how much of it is used.
    let random: Bool
    private var buf: UnsafeMutableRawBufferPointer
    private var start = 0, count = 0
    /// Bytes a read asks for; fixed for sequential reading.
    private var span: Int
    private let maxSpan: Int
    /// Records served from the current window (random reading).
    private var served = 0
    private(set) var readError: Int32?
    /// Reads made (for the tests and measurements).
    private(set) var reads = 0

    static let defaultBytes = 1 << 20
    static let minSpan = 1 << 12

    init(_ file: FileSource, size: Int, bytes: Int = FileWindow.defaultBytes, random: Bool = false) {
        self.file = file
        self.size = min(size, file.size)
        self.random = random
        maxSpan = max(bytes, FileWindow.minSpan)
        span = random ? FileWindow.minSpan * 16 : maxSpan
        buf = .allocate(byteCount: maxSpan, alignment: 16)
    }
    deinit { buf.deallocate() }

    func bytes(at offset: Int, count n: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, n >= 0, offset <= size, n <= size - offset else { return nil }
        if offset >= start && offset - start <= count - n {
            served += 1
            return UnsafeRawBufferPointer(rebasing: buf[offset - start..<offset - start + n])
        }
        var from = offset
        if random {
            // Half the window unused: smaller; well used: larger.
            if served <= 1 { span = max(FileWindow.minSpan, span / 2) } else if served >= 8 { span = min(maxSpan, span * 2) }
            from = max(0, offset - span / 8)
        }
        let want = min(max(span, offset + n - from), size - from)
        if want > buf.count {
            // A record larger than the window (pcapng blocks can be).
            buf.deallocate()
            buf = .allocate(byteCount: want, alignment: 16)
        }
        reads += 1
        let got = file.read(into: buf.baseAddress!, count: want, at: from)
        start = from
        count = max(0, got)
        served = 1
        if got < 0 { readError = Int32(-got); count = 0; return nil }
        readError = nil
        // Fewer bytes than when the file was checked: it was cut since.
        guard got == want else { return nil }
        return UnsafeRawBufferPointer(rebasing: buf[offset - from..<offset - from + n])
    }
}

/// One packet record of a capture: its timestamp (ns), its link type, its
/// captured bytes (a view valid until the cursor moves), and where they are
/// in the file.
struct CaptureRecord {
    var timestamp: Int64
    var link: UInt32
    var data: UnsafeRawBufferPointer
    /// Byte offset of the captured bytes.
    var dataOffset: Int
    var length: Int { data.count }
}

/// Reads a libpcap or pcapng capture record by record: the structure is
/// checked as it goes, and an error names the byte offset of what is wrong.
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

    func err(_ off: Int, _ what: String, cut: Bool = false) -> PcapError { PcapError(name: name, what: what, offset: off, cut: cut) }

    init(_ source: Source, name: String) throws(PcapError) {
        self.source = source
        self.name = name
        let size = source.size
        let n = min(size, 24)
        var head = [UInt8](repeating: 0, count: 24)
        if let v = self.source.bytes(at: 0, count: n) { for i in 0..<n { head[i] = v[i] } } else if n > 0 {
            throw PcapError(name: name, what: "cannot read the header: \(Self.reason(self.source.readError))", offset: 0)
        }
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

    /// A cursor at the same place reading from another source (a replay's
    /// own reader of the same file).
    init(at other: CaptureCursor<Source>, source: Source) {
        self.source = source
        name = other.name
        format = other.format
        offset = other.offset
    }

    static func reason(_ e: Int32?) -> String { e.map { String(cString: strerror($0)) } ?? "the file ended" }

    /// A view of `count` bytes at `o`; when the source ends before them, a
    /// cut (`what`) of the record that starts at `record`.
    @inline(__always)
    mutating func need(_ o: Int, _ count: Int, record: Int, _ what: @autoclosure () -> String) throws(PcapError) -> UnsafeRawBufferPointer {
        if let v = source.bytes(at: o, count: count) { return v }
        if let e = source.readError { throw err(o, "cannot read \(count) bytes: \(String(cString: strerror(e)))") }
        throw err(record, what(), cut: true)
    }

    @inline(__always)
    static func u16(_ v: UnsafeRawBufferPointer, _ o: Int, _ swapped: Bool) -> UInt16 {
        let le = UInt16(v[o]) | UInt16(v[o + 1]) << 8
        return swapped ? le.byteSwapped : le
    }

    @inline(__always)
    static func u32(_ v: UnsafeRawBufferPointer, _ o: Int, _ swapped: Bool) -> UInt32 {
        let le = UInt32(littleEndian: v.loadUnaligned(fromByteOffset: o, as: UInt32.self))
        return swapped ? le.byteSwapped : le
    }

    /// The next packet record; nil at the end. Other pcapng blocks are
    /// counted in `stats` and skipped.
    @inline(__always)
    mutating func next(_ stats: inout PcapStats) throws(PcapError) -> CaptureRecord? {
        switch format {
        case .pcap(let swapped, let nanos, let link):
            let size = source.size
            guard offset < size else { return nil }
            let o = offset
            let h = try need(o, 16, record: o, "truncated record header")
            let sec = Int64(Self.u32(h, 0, swapped)), frac = Int64(Self.u32(h, 4, swapped))
            let incl = Int(Self.u32(h, 8, swapped))
            guard incl <= 262_144 else { throw err(o, "record length \(incl) exceeds 262144") }
            let d = try need(o + 16, incl, record: o, "truncated record (\(incl) bytes announced, \(max(0, size - o - 16)) present)")
            offset = o + 16 + incl
            return CaptureRecord(timestamp: sec * 1_000_000_000 + (nanos ? frac : frac * 1000), link: link, data: d,
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
        let h = try need(o, 12, record: o, "truncated pcapng block header")
        if h[0] == 0x0a && h[1] == 0x0d && h[2] == 0x0d && h[3] == 0x0a {
            // A new section: its byte-order magic sets the order.
            let magic = Self.u32(h, 8, false)
            switch magic {
            case 0x1a2b_3c4d: swapped = false
            case 0x4d3c_2b1a: swapped = true
            default: throw err(o + 8, "bad pcapng byte-order magic 0x\(String(magic, radix: 16))")
            }
            interfaces = []
        }
        let type = Self.u32(h, 0, swapped)
        let len = Int(Self.u32(h, 4, swapped))
        guard len >= 12, len % 4 == 0 else { throw err(o, "pcapng block length \(len) is not a multiple of 4 of at least 12") }
        guard len <= size - o else { throw err(o, "truncated pcapng block (\(len) bytes announced, \(size - o) present)", cut: true) }
        let t = try need(o + len - 4, 4, record: o, "truncated pcapng block (\(len) bytes announced)")
        guard Int(Self.u32(t, 0, swapped)) == len else { throw err(o + len - 4, "pcapng block length trailer does not match its header (\(len))") }
        offset = o + len
        defer { format = .pcapng(swapped: swapped, interfaces: interfaces) }
        let body = 8, bodyEnd = len - 4
        switch type {
        case 0x0a0d_0d0a:
            return .some(nil)
        case 1:  // Interface Description Block
            guard bodyEnd - body >= 8 else { throw err(o, "truncated interface description block") }
            let b = try need(o, len, record: o, "truncated pcapng block (\(len) bytes announced)")
            let link = UInt32(Self.u16(b, body, swapped))
            guard PcapReader.supportedLinks.contains(link) else {
                throw err(o + body, "interface \(interfaces.count): unsupported link type \(link) (\(PcapReader.linkHelp))")
            }
            var units: UInt64 = 1_000_000
            // Options: if_tsresol (code 9) sets the resolution.
            var p = body + 8
            while p + 4 <= bodyEnd {
                let code = Self.u16(b, p, swapped), olen = Int(Self.u16(b, p + 2, swapped))
                if code == 0 { break }
                guard p + 4 + olen <= bodyEnd else { throw err(o + p, "truncated interface option \(code)") }
                if code == 9 && olen >= 1 {
                    let v = b[p + 4]
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
            let b = try need(o, body + 20, record: o, "truncated pcapng block (\(len) bytes announced)")
            let ifc = Int(Self.u32(b, body, swapped))
            guard ifc < interfaces.count else { throw err(o + body, "packet for interface \(ifc), but \(interfaces.count) interface(s) described") }
            let raw = UInt64(Self.u32(b, body + 4, swapped)) << 32 | UInt64(Self.u32(b, body + 8, swapped))
            let captured = Int(Self.u32(b, body + 12, swapped))
            guard captured <= bodyEnd - (body + 20) else {
                throw err(o + body + 12, "captured length \(captured) exceeds the block (\(bodyEnd - body - 20) bytes)")
            }
            let i = interfaces[ifc]
            let secs = raw / i.unitsPerSecond, rest = raw % i.unitsPerSecond
            guard secs < 9_000_000_000 else { throw err(o + body + 4, "timestamp beyond the year 2255") }
            // rest < units, so rest × 10^9 / units < 10^9 fits.
            let frac = i.unitsPerSecond.dividingFullWidth(rest.multipliedFullWidth(by: 1_000_000_000)).quotient
            let start = o + body + 20
            let d = try need(start, captured, record: o, "truncated pcapng block (\(len) bytes announced)")
            return .some(CaptureRecord(timestamp: Int64(secs) * 1_000_000_000 + Int64(frac), link: i.link,
                                       data: d, dataOffset: start))
        default:
            stats.skippedBlocks += 1
            return .some(nil)
        }
    }
}
