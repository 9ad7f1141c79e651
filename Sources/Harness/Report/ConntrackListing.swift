#if canImport(Glibc)
import Glibc
#endif
import ConnTrack
import Foundation

/// One connection as `conntrack -L` shows it.
public struct ConntrackRow: Sendable, Codable, Equatable {
    public var proto: String
    public var protonum: Int
    /// Whole seconds left before it times out (0 once expired).
    public var timeout: Int64
    /// Linux's TCP state name (nil for UDP, as conntrack prints none).
    public var state: String?
    public var src: String
    public var dst: String
    public var sport: UInt16
    public var dport: UInt16
    /// No packet was seen from the reply side ([UNREPLIED]).
    public var unreplied: Bool
    public var replySrc: String
    public var replyDst: String
    public var replySport: UInt16
    public var replyDport: UInt16
    /// [ASSURED].
    public var assured: Bool

    /// The JSON's keys are the CSV's columns.
    enum CodingKeys: String, CodingKey {
        case proto, protonum, timeout, state, src, dst, sport, dport, unreplied
        case replySrc = "reply_src", replyDst = "reply_dst", replySport = "reply_sport", replyDport = "reply_dport"
        case assured
    }
}

/// Per-flow listings in the form of `conntrack -L`, and the same rows as
/// JSON or CSV for machines (to diff against a real host's table).
///
/// The state column maps the tracker to Linux's names (`TCB.linuxState`):
/// no tracker state yet NONE; SYN seen SYN_SENT; SYN-ACK accepted (gVisor's
/// Alive, which does not keep SYN_RECV apart) ESTABLISHED; the first FIN
/// from either side FIN_WAIT; that FIN acknowledged CLOSE_WAIT; the second
/// FIN LAST_ACK; both acknowledged (closed by peer or by self) TIME_WAIT;
/// reset CLOSE. [UNREPLIED] until the reply side's SYN-ACK (TCP) or first
/// packet (UDP); [ASSURED] from the SYN-ACK on (TCP) or once replied (UDP).
/// The `linux` design's records print its own state, flags and expiry.
public enum ConntrackListing {
    public enum Format: String, Sendable, CaseIterable { case text, json, csv }

    /// Rows for `records` at `now` on their clock, in the records' order.
    public static func rows(_ records: [ConnectionRecord], timeouts: Timeouts, now: Int64) -> [ConntrackRow] {
        records.map { r in
            let udp = r.original.transProto == .udp
            // The `linux` design's records carry Linux's own state and flags.
            if let l = LinuxConntrackRecord(r) {
                return ConntrackRow(
                    proto: udp ? "udp" : "tcp", protonum: Int(r.original.transProto.rawValue),
                    timeout: max(0, (l.expires &- now) / 1_000_000_000), state: udp ? nil : l.tcp.state.name,
                    src: address(r.original.srcAddr, r.original.netProto), dst: address(r.original.dstAddr, r.original.netProto),
                    sport: r.original.srcPort, dport: r.original.dstPort, unreplied: l.unreplied,
                    replySrc: address(r.reply.srcAddr, r.reply.netProto), replyDst: address(r.reply.dstAddr, r.reply.netProto),
                    replySport: r.reply.srcPort, replyDport: r.reply.dstPort, assured: l.assured)
            }
            let left = r.lastUsed &+ timeouts.timeout(proto: r.original.transProto, tcb: r.tcb, udp: r.udp) &- now
            // The design's own state when it names one (`ownState`).
            let s = ConnTraceState(r)
            return ConntrackRow(
                proto: udp ? "udp" : "tcp", protonum: Int(r.original.transProto.rawValue),
                timeout: max(0, left / 1_000_000_000), state: udp ? nil : s.state?.rawValue,
                src: address(r.original.srcAddr, r.original.netProto), dst: address(r.original.dstAddr, r.original.netProto),
                sport: r.original.srcPort, dport: r.original.dstPort,
                unreplied: s.unreplied,
                replySrc: address(r.reply.srcAddr, r.reply.netProto), replyDst: address(r.reply.dstAddr, r.reply.netProto),
                replySport: r.reply.srcPort, replyDport: r.reply.dstPort,
                assured: s.assured)
        }
    }

    /// An address as `inet_ntop` writes it (conntrack's own form).
    static func address(_ a: IPAddress, _ net: NetProto) -> String {
        var bytes = (0..<(net == .ipv4 ? 4 : 16)).map { a.byte($0) }
        var out = [CChar](repeating: 0, count: 64)
        let ok = bytes.withUnsafeMutableBytes { b in
            inet_ntop(net == .ipv4 ? AF_INET : AF_INET6, b.baseAddress, &out, socklen_t(out.count)) != nil
        }
        return ok ? String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : a.formatted(net)
    }

    /// `conntrack -L` lines (without its mark= and use= fields).
    public static func text(_ rows: [ConntrackRow]) -> String {
        var o = ""
        for r in rows {
            o += r.proto.padding(toLength: 8, withPad: " ", startingAt: 0) + " \(r.protonum) \(r.timeout) "
            if let s = r.state { o += s + " " }
            o += "src=\(r.src) dst=\(r.dst) sport=\(r.sport) dport=\(r.dport) "
            if r.unreplied { o += "[UNREPLIED] " }
            o += "src=\(r.replySrc) dst=\(r.replyDst) sport=\(r.replySport) dport=\(r.replyDport)"
            if r.assured { o += " [ASSURED]" }
            o += "\n"
        }
        return o
    }

    public static func csv(_ rows: [ConntrackRow]) -> String {
        var o = "proto,protonum,timeout,state,src,dst,sport,dport,unreplied,reply_src,reply_dst,reply_sport,reply_dport,assured\n"
        for r in rows {
            o += "\(r.proto),\(r.protonum),\(r.timeout),\(r.state ?? ""),\(r.src),\(r.dst),\(r.sport),\(r.dport),\(r.unreplied ? 1 : 0),"
            o += "\(r.replySrc),\(r.replyDst),\(r.replySport),\(r.replyDport),\(r.assured ? 1 : 0)\n"
        }
        return o
    }

    public static func render(_ rows: [ConntrackRow], _ format: Format) throws -> String {
        switch format {
        case .text: return text(rows)
        case .csv: return csv(rows)
        case .json:
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            return String(decoding: try e.encode(rows), as: UTF8.self) + "\n"
        }
    }
}
