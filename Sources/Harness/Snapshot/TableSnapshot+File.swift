import ConnTrack
import Foundation

/// A saved table that cannot be read; the message names the byte offset.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

// The file, version 1 (all integers little-endian):
//
//     offset      size   field
//     0           8      magic "CTBSNAP\0"
//     8           4      format version (1)
//     12          4      header length H
//     16          H      header: `SnapshotHeader` as JSON (UTF-8)
//     16+H        128·N  N connection records (`recordSize` bytes each)
//     16+H+128N   4      CRC-32C of every byte before it
//
// One record: the original tuple, the reply tuple (38 bytes each: source
// and destination address as 16 bytes in network order, source and
// destination port, transport protocol number, 4 or 6), hook, NAT flag,
// UDP state bits, TCP tracker state (result, phase, first FIN), both
// streams (una, nxt, end, fin, then FIN-seen and RST-seen bits: 17 bytes
// each, inbound first), and `lastUsed` as Unix seconds (8) + nanoseconds (4).
extension TableSnapshot {
    public static let magic: [UInt8] = Array("CTBSNAP".utf8) + [0]
    public static let formatVersion: UInt32 = 1
    public static let recordSize = 128

    /// Where record `i` starts in a file whose header is `headerLength` bytes.
    public static func recordOffset(_ i: Int, headerLength: Int) -> Int { 16 + headerLength + i * recordSize }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let header = Array(try enc.encode(self.header))
        var out: [UInt8] = []
        out.reserveCapacity(20 + header.count + records.count * Self.recordSize)
        out += Self.magic
        put32(&out, Self.formatVersion)
        put32(&out, UInt32(header.count))
        out += header
        var w = RecordWriter(epoch: self.header.clockEpochUnixNanos)
        for r in records { w.write(r, into: &out) }
        put32(&out, CRC32C.of(out))
        return out
    }

    /// Parses a file. Every structural problem is refused with its byte
    /// offset; duplicate tuples are left to the design's import (whose
    /// record index `recordOffset` turns into an offset).
    public static func decode(_ d: [UInt8], name: String) throws(SnapshotError) -> TableSnapshot {
        func err(_ off: Int, _ what: String) -> SnapshotError { SnapshotError("\(name): \(what) at byte offset \(off)") }
        func u32(_ o: Int) -> UInt32 { UInt32(d[o]) | UInt32(d[o + 1]) << 8 | UInt32(d[o + 2]) << 16 | UInt32(d[o + 3]) << 24 }
        guard d.count >= 8 else { throw err(d.count, "truncated: \(d.count) bytes, not even the 8-byte magic") }
        guard Array(d[0..<8]) == magic else { throw err(0, "not a saved conntrack-bench table (wrong magic)") }
        guard d.count >= 16 else { throw err(d.count, "truncated: the file ends inside its fixed header (16 bytes)") }
        let version = u32(8)
        guard version <= formatVersion else { throw err(8, "format version \(version) is newer than this build reads (\(formatVersion))") }
        guard version >= 1 else { throw err(8, "format version 0 does not exist") }
        let h = Int(u32(12))
        guard h <= d.count - 16 else { throw err(12, "truncated: the header is \(h) bytes but \(d.count - 16) follow") }
        let header: SnapshotHeader
        do { header = try JSONDecoder().decode(SnapshotHeader.self, from: Data(d[16..<(16 + h)])) } catch {
            throw err(16, "the header is not a valid table header (\(Self.brief(error)))")
        }
        guard header.connections >= 0 else { throw err(16, "the header's connection count \(header.connections) is negative") }
        let body = 16 + h
        let present = d.count - body - 4
        let expected = header.connections.multipliedReportingOverflow(by: recordSize)
        let crcOK = d.count >= body + 4 && CRC32C.of(Array(d[0..<(d.count - 4)])) == u32(d.count - 4)
        if !crcOK {
            if expected.overflow || present < expected.partialValue || present % recordSize != 0 {
                throw err(d.count, "truncated: the header announces \(header.connections) connections (\(header.connections) × \(recordSize) bytes + a 4-byte checksum), \(max(0, d.count - body)) bytes follow the header")
            }
            throw err(d.count - 4, "checksum mismatch: the file was changed or damaged")
        }
        guard !expected.overflow, present == expected.partialValue else {
            throw err(body, "the header's connection count \(header.connections) does not match the body's \(present / recordSize) records")
        }
        var records: [ConnectionRecord] = []
        records.reserveCapacity(header.connections)
        let r = RecordReader(bytes: d, epoch: header.clockEpochUnixNanos)
        for i in 0..<header.connections {
            let o = body + i * recordSize
            switch r.read(at: o) {
            case .success(let rec): records.append(rec)
            case .failure(let f): throw err(o + f.field, "record \(i): \(f.what)")
            }
        }
        var s = TableSnapshot(header: header, records: records)
        s.file = (name, h)
        return s
    }

    static func brief(_ e: any Error) -> String {
        if case DecodingError.keyNotFound(let k, _) = e { return "missing \(k.stringValue)" }
        if case DecodingError.typeMismatch(_, let c) = e { return "bad \(c.codingPath.map(\.stringValue).joined(separator: "."))" }
        if case DecodingError.valueNotFound(_, let c) = e { return "no value for \(c.codingPath.map(\.stringValue).joined(separator: "."))" }
        if case DecodingError.dataCorrupted(let c) = e {
            return c.codingPath.isEmpty ? "not JSON" : "bad \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        return "\(e)"
    }
}

@inline(__always) func put16(_ o: inout [UInt8], _ v: UInt16) { o.append(UInt8(v & 0xff)); o.append(UInt8(v >> 8)) }
@inline(__always) func put32(_ o: inout [UInt8], _ v: UInt32) { for i in 0..<4 { o.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
@inline(__always) func put64(_ o: inout [UInt8], _ v: UInt64) { for i in 0..<8 { o.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }

/// Writes records in the file's layout.
struct RecordWriter {
    let epoch: Int64

    func tuple(_ t: TupleID, into o: inout [UInt8]) {
        for i in 0..<16 { o.append(t.srcAddr.byte(i)) }
        for i in 0..<16 { o.append(t.dstAddr.byte(i)) }
        put16(&o, t.srcPort); put16(&o, t.dstPort)
        o.append(t.transProto.rawValue)
        o.append(t.netProto == .ipv4 ? 4 : 6)
    }

    func stream(_ s: TCPStream, into o: inout [UInt8]) {
        put32(&o, s.una); put32(&o, s.nxt); put32(&o, s.end); put32(&o, s.fin)
        o.append((s.finSeen ? 1 : 0) | (s.rstSeen ? 2 : 0))
    }

    mutating func write(_ r: ConnectionRecord, into o: inout [UInt8]) {
        let start = o.count
        tuple(r.original, into: &o)
        tuple(r.reply, into: &o)
        o.append(r.hook.rawValue)
        o.append(r.nat ? 1 : 0)
        o.append((r.udp.initialised ? 1 : 0) | (r.udp.replied ? 2 : 0))
        o.append(r.tcb.state.rawValue)
        o.append(r.tcb.phase.rawValue)
        o.append(r.tcb.firstFin.rawValue)
        stream(r.tcb.inbound, into: &o)
        stream(r.tcb.outbound, into: &o)
        // lastUsed as Unix time: seconds, then nanoseconds.
        let unix = epoch &+ r.lastUsed
        let (s, ns) = (unix.floorDiv(1_000_000_000), unix.floorMod(1_000_000_000))
        put64(&o, UInt64(bitPattern: s))
        put32(&o, UInt32(ns))
        assert(o.count - start == TableSnapshot.recordSize, "record layout is \(o.count - start) bytes")
    }
}

/// Reads records in the file's layout, checking every enumerated field.
struct RecordReader {
    struct Failure: Error { var field: Int; var what: String }
    let bytes: [UInt8]
    let epoch: Int64

    func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
    func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }

    func address(_ o: Int) -> IPAddress {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(bytes[o + i]) }
        for i in 8..<16 { lo = lo << 8 | UInt64(bytes[o + i]) }
        return IPAddress(hi: hi, lo: lo)
    }

    func tuple(_ o: Int, _ base: Int) -> Result<TupleID, Failure> {
        guard let tp = TransProto(rawValue: bytes[o + 36]) else {
            return .failure(Failure(field: o + 36 - base, what: "transport protocol \(bytes[o + 36]) is neither TCP (6) nor UDP (17)"))
        }
        let net: NetProto
        switch bytes[o + 37] {
        case 4: net = .ipv4
        case 6: net = .ipv6
        default: return .failure(Failure(field: o + 37 - base, what: "network protocol \(bytes[o + 37]) is neither 4 nor 6"))
        }
        return .success(TupleID(srcAddr: address(o), srcPort: u16(o + 32), dstAddr: address(o + 16), dstPort: u16(o + 34),
                                transProto: tp, netProto: net))
    }

    func stream(_ o: Int) -> TCPStream {
        var s = TCPStream()
        s.una = u32(o); s.nxt = u32(o + 4); s.end = u32(o + 8); s.fin = u32(o + 12)
        s.finSeen = bytes[o + 16] & 1 != 0; s.rstSeen = bytes[o + 16] & 2 != 0
        return s
    }

    func read(at o: Int) -> Result<ConnectionRecord, Failure> {
        // A reply tuple of zeros: the record's partner is missing.
        if bytes[(o + 38)..<(o + 76)].allSatisfy({ $0 == 0 }) {
            return .failure(Failure(field: 38, what: "the reply tuple (the original's partner) is missing"))
        }
        let original: TupleID, reply: TupleID
        switch tuple(o, o) { case .success(let t): original = t; case .failure(let f): return .failure(f) }
        switch tuple(o + 38, o) { case .success(let t): reply = t; case .failure(let f): return .failure(f) }
        guard let hook = Hook(rawValue: bytes[o + 76]) else { return .failure(Failure(field: 76, what: "hook \(bytes[o + 76]) is unknown")) }
        guard bytes[o + 77] <= 1 else { return .failure(Failure(field: 77, what: "NAT flag \(bytes[o + 77]) is not 0 or 1")) }
        var udp = UDPState()
        udp.initialised = bytes[o + 78] & 1 != 0; udp.replied = bytes[o + 78] & 2 != 0
        guard let state = TrackerResult(rawValue: bytes[o + 79]) else { return .failure(Failure(field: 79, what: "tracker state \(bytes[o + 79]) is unknown")) }
        guard let phase = TCB.Phase(rawValue: bytes[o + 80]) else { return .failure(Failure(field: 80, what: "tracker phase \(bytes[o + 80]) is unknown")) }
        guard let fin = TCB.FirstFin(rawValue: bytes[o + 81]) else { return .failure(Failure(field: 81, what: "first-FIN side \(bytes[o + 81]) is unknown")) }
        let tcb = TCB(state: state, phase: phase, firstFin: fin, inbound: stream(o + 82), outbound: stream(o + 99))
        let secs = Int64(bitPattern: u64(o + 116)), ns = Int64(u32(o + 124))
        guard ns < 1_000_000_000 else { return .failure(Failure(field: 124, what: "lastUsed nanoseconds \(ns) is not below 10^9")) }
        let (t, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow, t.addingReportingOverflow(ns - epoch).overflow == false else {
            return .failure(Failure(field: 116, what: "lastUsed \(secs) s is out of range"))
        }
        return .success(ConnectionRecord(original: original, reply: reply, hook: hook, nat: bytes[o + 77] == 1, tcb: tcb,
                                         udp: udp, lastUsed: t + ns - epoch, timeoutLeft: 0))
    }
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 { let q = self / d; return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q }
    func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}
