/// The connection-tracking state bits OVS gives a packet (`pkt->md.ct_state`,
/// `CS_*` in lib/packets.h), as `ovstest test-conntrack pcap` prints them:
/// the set names joined by `|` in this order.
public struct OVSCTState: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The connection is not yet confirmed (OVS: `CS_NEW`).
    public static let new = OVSCTState(rawValue: 1 << 0)
    /// The connection has seen traffic accepted as part of it (`CS_ESTABLISHED`).
    public static let est = OVSCTState(rawValue: 1 << 1)
    /// Related to another connection (`CS_RELATED`; not produced here: no ALGs, no ICMP errors).
    public static let rel = OVSCTState(rawValue: 1 << 2)
    /// The packet is in the reply direction (`CS_REPLY_DIR`).
    public static let rpl = OVSCTState(rawValue: 1 << 3)
    /// The packet is invalid for the tracker (`CS_INVALID`).
    public static let inv = OVSCTState(rawValue: 1 << 4)
    /// The packet went through the tracker (`CS_TRACKED`).
    public static let trk = OVSCTState(rawValue: 1 << 5)
    /// Source NAT applied (`CS_SRC_NAT`).
    public static let snat = OVSCTState(rawValue: 1 << 6)
    /// Destination NAT applied (`CS_DST_NAT`).
    public static let dnat = OVSCTState(rawValue: 1 << 7)

    static let names: [(OVSCTState, String)] = [(.new, "new"), (.est, "est"), (.rel, "rel"), (.rpl, "rpl"),
                                                (.inv, "inv"), (.trk, "trk"), (.snat, "snat"), (.dnat, "dnat")]

    /// "new|trk", "est|rpl|trk".
    public var description: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: "|")
    }
}
