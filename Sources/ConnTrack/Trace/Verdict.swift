/// A packet's verdict in OVS's `ct_state` terms: the bits and their order
/// are OVS's `CS_*` flags, so `text` is what `ovstest test-conntrack pcap`
/// prints for a packet (`new|trk`, `est|rpl|trk`; `0` for no flag).
/// What each flag means for each design: docs/verdicts-and-events.md.
public struct Verdict: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The connection is not yet confirmed in both directions.
    public static let new = Verdict(rawValue: 1 << 0)
    /// The connection has seen traffic in both directions.
    public static let est = Verdict(rawValue: 1 << 1)
    /// Related to another connection (no design here tracks relations).
    public static let rel = Verdict(rawValue: 1 << 2)
    /// The packet is in the reply direction.
    public static let rpl = Verdict(rawValue: 1 << 3)
    /// The packet is invalid for the tracker.
    public static let inv = Verdict(rawValue: 1 << 4)
    /// The packet went through the tracker.
    public static let trk = Verdict(rawValue: 1 << 5)
    /// Its source address was translated.
    public static let snat = Verdict(rawValue: 1 << 6)
    /// Its destination address was translated.
    public static let dnat = Verdict(rawValue: 1 << 7)

    /// Flag names from the lowest bit up (OVS's `ct_state_to_string`).
    public static let names = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"]

    /// The flags joined by `|` from the lowest bit up; `0` when none is
    /// set (OVS's `format_flags`).
    public var text: String {
        if rawValue == 0 { return "0" }
        var parts: [String] = []
        for b in 0..<8 where rawValue & (1 << b) != 0 { parts.append(Self.names[b]) }
        return parts.joined(separator: "|")
    }

    /// Parses `text` back (tests, the loopback script's checks); nil for
    /// an unknown name.
    public init?(text: String) {
        if text == "0" { self.init(rawValue: 0); return }
        var v: UInt8 = 0
        for part in text.split(separator: "|", omittingEmptySubsequences: false) {
            guard let b = Self.names.firstIndex(of: String(part)) else { return nil }
            v |= 1 << UInt8(b)
        }
        self.init(rawValue: v)
    }

    /// The verdict of a packet the table tracked, by OVS's rules
    /// (`conn_update_state` and `write_ct_md` in lib/conntrack.c):
    /// - invalid: `inv|trk` alone (OVS replaces the state with CS_INVALID);
    /// - otherwise `est` once the connection has seen both directions
    ///   (`replied`, after this packet) or the packet is a reply, else `new`;
    ///   `rpl` for a reply-direction packet; `trk` always;
    /// - a connection whose destination is translated (this harness's NAT
    ///   redirect) gives `dnat` to original-direction packets and `snat` to
    ///   replies (OVS reverses the action for the reply direction).
    @inlinable
    public static func tracked(reply: Bool, replied: Bool, invalid: Bool, dnat: Bool) -> Verdict {
        if invalid { return [.inv, .trk] }
        var v: Verdict = reply || replied ? [.est, .trk] : [.new, .trk]
        if reply { v.insert(.rpl) }
        if dnat { v.insert(reply ? .snat : .dnat) }
        return v
    }

    /// A packet that created a connection: `new|trk` (with `dnat` for a
    /// translated one), as OVS's `conn_not_found`.
    @inlinable
    public static func created(dnat: Bool) -> Verdict {
        dnat ? [.new, .trk, .dnat] : [.new, .trk]
    }

    /// A packet the table could not commit (limit, insert failed): OVS
    /// marks it `new|trk` before the commit fails (`conn_not_found` at
    /// `n_conn_limit`), so it is `new|trk` here too.
    public static let notCommitted: Verdict = [.new, .trk]
}
