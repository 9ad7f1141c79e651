#if canImport(Glibc)
import Glibc
#endif
import ConnTrack

/// Operations on the running table (`--op KIND@T`): what, and when in
/// virtual seconds (`every:S` for a period from S).
public struct OperationSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// `conntrack -L`: every connection listed while packets flow.
        case dump
        /// `conntrack -S`: the counters, summed over the workers.
        case stats
        /// `conntrack -F`: every connection removed.
        case flush
        /// `conntrack -D` with a filter (`delete:src=PREFIX,dport=RANGE`).
        case delete
        /// A snapshot taken while packets flow, no pause (to `--save`).
        case save
        /// Rehash to N slots while packets flow (`resize:N`: buckets, or
        /// entries of capacity, as the design sizes itself).
        case resize
    }

    /// The most slots `resize:N` asks for (as `--buckets`).
    public static let maxResize = 1 << 28

    public var kind: Kind
    /// `delete`'s filter (`flush`: none, every connection).
    public var filter: ConnectionFilter
    /// `resize`'s slot count.
    public var size: Int?
    /// Virtual seconds of the first run.
    public var at: Double
    /// Virtual seconds between runs; nil: once.
    public var every: Double?

    public init(kind: Kind, filter: ConnectionFilter = ConnectionFilter(), size: Int? = nil, at: Double, every: Double? = nil) {
        precondition((kind == .resize) == (size != nil), "resize, and only resize, has a size")
        self.kind = kind
        self.filter = filter
        self.size = size
        self.at = at
        self.every = every
    }

    public var description: String {
        kind.rawValue + (kind == .delete ? ":" + filter.description : "") + (size.map { ":\($0)" } ?? "") + "@"
            + (every.map { "every:\(ReportFormatter.f($0, 3))" } ?? ReportFormatter.f(at, 3))
    }

    /// `KIND@SECONDS` or `KIND@every:SECONDS`; `delete:FILTER@…` with
    /// FILTER conditions joined by commas: `src=PREFIX`, `dst=PREFIX`
    /// (IPv4 or IPv6, `/LEN` optional), `sport=PORT[-PORT]`, `dport=…`.
    public static func parse(_ text: String) throws(ConfigError) -> OperationSpec {
        let kinds = Kind.allCases.map { $0 == .delete ? "delete:FILTER" : $0 == .resize ? "resize:N" : $0.rawValue }.joined(separator: ", ")
        let usage = "--op must be KIND@SECONDS or KIND@every:SECONDS (KIND one of \(kinds); FILTER: src=PREFIX, dst=PREFIX, sport=PORT[-PORT], dport=PORT[-PORT], joined by commas; N: slots, 1...\(maxResize); seconds of virtual time, 0...1e9, a period above 0), got '\(text)'"
        guard let atSign = text.lastIndex(of: "@") else { throw ConfigError(usage) }
        let what = String(text[..<atSign]), when = String(text[text.index(after: atSign)...])
        var spec = OperationSpec(kind: .dump, at: 0)
        if what.hasPrefix("delete:") {
            spec.kind = .delete
            guard let f = parseFilter(String(what.dropFirst(7))) else { throw ConfigError(usage) }
            spec.filter = f
        } else if what.hasPrefix("resize:") {
            guard let n = Int(what.dropFirst(7)), (1...maxResize).contains(n) else { throw ConfigError(usage) }
            spec.kind = .resize
            spec.size = n
        } else {
            guard let k = Kind(rawValue: what), k != .delete, k != .resize else { throw ConfigError(usage) }
            spec.kind = k
        }
        if when.hasPrefix("every:") {
            guard let s = Double(when.dropFirst(6)), s > 0, s <= 1e9, s.isFinite else { throw ConfigError(usage) }
            spec.at = s
            spec.every = s
            return spec
        }
        guard let t = Double(when), t >= 0, t <= 1e9, t.isFinite else { throw ConfigError(usage) }
        spec.at = t
        return spec
    }

    static func parseFilter(_ text: String) -> ConnectionFilter? {
        var f = ConnectionFilter()
        guard !text.isEmpty else { return nil }
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { return nil }
            let v = String(kv[1])
            switch kv[0] {
            case "src": guard f.src == nil, let p = prefix(v) else { return nil }; f.src = p
            case "dst": guard f.dst == nil, let p = prefix(v) else { return nil }; f.dst = p
            case "sport": guard f.sport == nil, let r = ports(v) else { return nil }; f.sport = r
            case "dport": guard f.dport == nil, let r = ports(v) else { return nil }; f.dport = r
            default: return nil
            }
        }
        return f
    }

    static func ports(_ text: String) -> ClosedRange<UInt16>? {
        let ends = text.split(separator: "-", maxSplits: 1).map { UInt16($0) }
        guard ends.allSatisfy({ $0 != nil }) else { return nil }
        if ends.count == 1 { return ends[0]!...ends[0]! }
        guard ends.count == 2, ends[0]! <= ends[1]! else { return nil }
        return ends[0]!...ends[1]!
    }

    static func prefix(_ text: String) -> ConnectionFilter.Prefix? {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first else { return nil }
        let addr = String(first)
        var b4 = in_addr(), b6 = in6_addr()
        if inet_pton(AF_INET, addr, &b4) == 1 {
            let len = parts.count == 2 ? Int(parts[1]) : 32
            guard let len, (0...32).contains(len) else { return nil }
            let v = UInt32(bigEndian: b4.s_addr)
            return .init(address: IPAddress(v4: v), length: len, net: .ipv4, text: text)
        }
        if inet_pton(AF_INET6, addr, &b6) == 1 {
            let len = parts.count == 2 ? Int(parts[1]) : 128
            guard let len, (0...128).contains(len) else { return nil }
            let bytes = withUnsafeBytes(of: b6) { Array($0) }
            var hi: UInt64 = 0, lo: UInt64 = 0
            for i in 0..<8 { hi = hi << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { lo = lo << 8 | UInt64(bytes[i]) }
            return .init(address: IPAddress(hi: hi, lo: lo), length: len, net: .ipv6, text: text)
        }
        return nil
    }
}
