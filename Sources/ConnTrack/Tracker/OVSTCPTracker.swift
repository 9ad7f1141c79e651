/// Open vSwitch's TCP tracker (lib/conntrack-tcp.c, taken from OpenBSD's
/// pf): per direction, the highest sequence number sent, the highest the
/// other side may send, the largest window and its scale; the segment's
/// bounds are checked against them (Guido van Rooij's algorithm). Facts,
/// cited by function: docs/ovs-design.md ("TCP tracker").

/// A peer's state (`CT_DPIF_TCPS_*`), numbered as OVS numbers them: the
/// tracker compares states by order. Only closed, SYN_SENT, established,
/// closing, FIN_WAIT_2 and TIME_WAIT are ever assigned.
public enum OVSTCPState: UInt8, Sendable, Codable, CaseIterable, Comparable {
    case closed = 0, listen, synSent, synRecv, established, closeWait, finWait1, closing, lastAck, finWait2, timeWait

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The name `ovs-appctl dpctl/dump-conntrack` prints.
    public var name: String {
        switch self {
        case .closed: "CLOSED"
        case .listen: "LISTEN"
        case .synSent: "SYN_SENT"
        case .synRecv: "SYN_RECV"
        case .established: "ESTABLISHED"
        case .closeWait: "CLOSE_WAIT"
        case .finWait1: "FIN_WAIT_1"
        case .closing: "CLOSING"
        case .lastAck: "LAST_ACK"
        case .finWait2: "FIN_WAIT_2"
        case .timeWait: "TIME_WAIT"
        }
    }
}

/// The timeout a TCP connection's expiration was last set with
/// (`CT_TM_TCP_*`): OVS sets the expiration to now plus this class's value.
public enum OVSTCPTimeout: UInt8, Sendable, Codable, CaseIterable {
    case firstPacket = 0, opening, established, closing, finWait, closed
}

/// What an update decided (`enum ct_update_res`).
public enum OVSTCPUpdate: UInt8, Sendable, Equatable {
    /// Taken (`CT_UPDATE_VALID`): est, rpl in the reply direction.
    case valid
    /// Refused (`CT_UPDATE_INVALID`): inv, nothing refreshed.
    case invalid
    /// A SYN on a connection closed both ways (`CT_UPDATE_NEW`): the
    /// connection is expired and the packet makes a new one.
    case new
    /// A SYN again before the handshake's end (`CT_UPDATE_VALID_NEW`): new.
    case validNew
}

/// One direction's state (`struct tcp_peer`).
public struct OVSTCPPeer: Sendable, Hashable, Codable {
    /// The highest sequence number this side sent (its end).
    public var seqlo: UInt32 = 0
    /// The highest sequence number this side may send: what the other
    /// side acknowledged plus its window.
    public var seqhi: UInt32 = 0
    /// The largest window this side advertised, before scaling.
    public var maxWin: UInt16 = 0
    /// `flag` when the SYN carried the option, `unknown` when the
    /// connection was picked up mid-stream; the shift in the low bits.
    public var wscale: UInt8 = 0
    public var state = OVSTCPState.closed

    public init() {}

    public static let wscaleFlag: UInt8 = 0x80
    public static let wscaleUnknown: UInt8 = 0x40
    public static let wscaleMask: UInt8 = 0x0f
    /// `TCP_MAX_WSCALE`.
    public static let maxWscale: UInt8 = 14
}

/// A TCP connection's tracker state (`struct conn_tcp`'s `peer[2]`) and the
/// timeout class its expiration was last set with.
public struct OVSTCPConn: Sendable, Hashable, Codable {
    /// The originator (`peer[0]`).
    public var original = OVSTCPPeer()
    /// The responder (`peer[1]`).
    public var reply = OVSTCPPeer()
    public var timeout = OVSTCPTimeout.firstPacket

    public init() {}

    /// `MAXACKWINDOW`: an acknowledgement may lag one reassembled
    /// fragment behind, or run one window ahead.
    static let maxAckWindow: Int32 = 0xffff + 1500

    /// `tcp_invalid_flags`: SYN with RST or FIN; none of SYN, ACK and RST;
    /// FIN, PSH or URG without ACK.
    @inline(__always)
    public static func invalidFlags(_ f: TCPFlags) -> Bool {
        if f.contains(.syn) {
            if f.contains(.rst) || f.contains(.fin) { return true }
        } else if !f.contains(.ack) && !f.contains(.rst) {
            return true
        }
        return !f.contains(.ack) && (f.contains(.fin) || f.contains(.psh) || f.contains(.urg))
    }

    /// `tcp_valid_new`: valid flags, and not a SYN-ACK (a connection is
    /// picked up from its SYN or mid-stream, never half open).
    @inline(__always)
    public static func validNew(_ f: TCPFlags) -> Bool {
        !invalidFlags(f) && !(f.contains(.syn) && f.contains(.ack))
    }

    /// `tcp_new_conn`: the originator from the first segment, the
    /// responder unknown. Preconditions: `validNew(seg.flags)`.
    public init(first seg: TCPSegment) {
        var src = OVSTCPPeer(), dst = OVSTCPPeer()
        src.seqlo = seg.seq
        src.seqhi = seg.seq &+ UInt32(seg.payloadLength) &+ 1
        if seg.flags.contains(.syn) {
            src.seqhi &+= 1
            src.wscale = seg.wscale
        } else {
            // Picked up mid-stream: scaling unknown on both sides.
            src.wscale = OVSTCPPeer.wscaleUnknown
            dst.wscale = OVSTCPPeer.wscaleUnknown
        }
        src.maxWin = max(seg.window, 1)
        let sws = src.wscale & OVSTCPPeer.wscaleMask
        if sws != 0 { src.maxWin = UInt16(Self.divRoundUp(UInt32(src.maxWin), 1 << UInt32(sws))) }
        if seg.flags.contains(.fin) { src.seqhi &+= 1 }
        dst.seqhi = 1
        dst.maxWin = 1
        src.state = .synSent
        dst.state = .closed
        original = src
        reply = dst
        timeout = .firstPacket
    }

    @inline(__always)
    static func divRoundUp(_ a: UInt32, _ b: UInt32) -> UInt32 { (a + b - 1) / b }

    /// `SEQ_GEQ`: a at or after b, modulo 2^32.
    @inline(__always)
    static func seqGEQ(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) >= 0 }

    /// `SEQ_GT`: a after b, modulo 2^32.
    @inline(__always)
    static func seqGT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) > 0 }

    /// `tcp_conn_update` for a segment of the connection (`reply`: sent by
    /// the responder). Returns the decision and whether the expiration was
    /// set again (`conn_update_expiration`, with `timeout` now its class).
    /// The loose test's updates are made without a refresh, as in pf, so
    /// that a flood caught there cannot keep a connection alive.
    @inline(__always)
    public mutating func update(_ seg: TCPSegment, reply isReply: Bool) -> (OVSTCPUpdate, refreshed: Bool) {
        if isReply {
            return Self.update(seg, src: &reply, dst: &original, timeout: &timeout)
        }
        return Self.update(seg, src: &original, dst: &reply, timeout: &timeout)
    }

    static func update(_ seg: TCPSegment, src: inout OVSTCPPeer, dst: inout OVSTCPPeer,
                       timeout: inout OVSTCPTimeout) -> (OVSTCPUpdate, refreshed: Bool) {
        let f = seg.flags
        if invalidFlags(f) { return (.invalid, false) }
        let syn = f.contains(.syn), ack = f.contains(.ack), rst = f.contains(.rst), fin = f.contains(.fin)
        if syn && !ack {
            if dst.state >= .finWait2 && src.state >= .finWait2 {
                src.state = .closed
                dst.state = .closed
                return (.new, false)
            } else if src.state <= .synSent {
                src.state = .synSent
                timeout = .firstPacket
                return (.validNew, true)
            }
        }
        // Scale factors apply to segments other than SYNs, when both sides
        // said so, or both were picked up mid-stream.
        var sws: UInt32 = 0, dws: UInt32 = 0
        if !syn && src.wscale & OVSTCPPeer.wscaleFlag != 0 && dst.wscale & OVSTCPPeer.wscaleFlag != 0 {
            sws = UInt32(src.wscale & OVSTCPPeer.wscaleMask)
            dws = UInt32(dst.wscale & OVSTCPPeer.wscaleMask)
        } else if !syn && src.wscale & OVSTCPPeer.wscaleUnknown != 0 && dst.wscale & OVSTCPPeer.wscaleUnknown != 0 {
            sws = UInt32(OVSTCPPeer.maxWscale)
            dws = UInt32(OVSTCPPeer.maxWscale)
        }
        var win = seg.window
        let origSeq = seg.seq
        var seq = seg.seq
        var ackNo = seg.ack
        var end = seq &+ UInt32(seg.payloadLength)
        if syn { end &+= 1 }
        if fin { end &+= 1 }
        var checkAckSkew = true
        if src.state < .synSent {
            // This side's first segment.
            if syn && dst.wscale & OVSTCPPeer.wscaleFlag != 0 {
                src.wscale = seg.wscale
                if src.wscale & OVSTCPPeer.wscaleFlag != 0 {
                    // Take the scale out of the window the SYN carries.
                    sws = UInt32(src.wscale & OVSTCPPeer.wscaleMask)
                    win = UInt16(truncatingIfNeeded: divRoundUp(UInt32(win), 1 << sws))
                    dws = UInt32(dst.wscale & OVSTCPPeer.wscaleMask)
                } else {
                    // Only the other side offered scaling: it is off, and
                    // the other side's window is taken as scaled.
                    dst.maxWin = UInt16(truncatingIfNeeded: UInt32(dst.maxWin) << UInt32(dst.wscale & OVSTCPPeer.wscaleMask))
                    dst.wscale = 0
                }
            }
            src.seqlo = seq
            src.state = .synSent
            // Picked up anew or mid-stream: the window may need to slide,
            // and the acknowledgement is not checked.
            let reach = end &+ max(1, UInt32(dst.maxWin) << dws)
            if src.seqhi == 1 || seqGEQ(reach, src.seqhi) {
                src.seqhi = reach
                checkAckSkew = false
            }
            if win > src.maxWin { src.maxWin = win }
        }
        if !ack {
            ackNo = dst.seqlo
        } else if ackNo == 0 && rst {
            // Stacks that send ACK|RST with no acknowledgement number.
            ackNo = dst.seqlo
        }
        if seq == end {
            // A segment with no data: checked at the sender's end.
            seq = src.seqlo
            end = seq
        }
        let ackSkew = checkAckSkew ? Int32(bitPattern: dst.seqlo &- ackNo) : 0
        let dstWin = UInt32(dst.maxWin) << dws
        let scaledWin = UInt32(win) << sws
        let strict = seqGEQ(src.seqhi, end)
            && seqGEQ(seq, src.seqlo &- dstWin)
            && ackSkew >= -maxAckWindow
            && Int64(ackSkew) <= Int64(maxAckWindow) << sws
            && (!rst || origSeq == src.seqlo || origSeq == src.seqlo &+ 1 || origSeq &+ 1 == src.seqlo)
        if strict {
            if src.maxWin < win { src.maxWin = win }
            if seqGT(end, src.seqlo) { src.seqlo = end }
            if seqGEQ(ackNo &+ scaledWin, dst.seqhi) { dst.seqhi = ackNo &+ max(scaledWin, 1) }
            if syn && src.state < .synSent { src.state = .synSent }
            if fin && src.state < .closing { src.state = .closing }
            if ack {
                if dst.state == .synSent {
                    dst.state = .established
                } else if dst.state == .closing {
                    dst.state = .finWait2
                }
            }
            if rst {
                src.state = .timeWait
                dst.state = .timeWait
            }
            if src.state >= .finWait2 && dst.state >= .finWait2 {
                timeout = .closed
            } else if src.state >= .closing && dst.state >= .closing {
                timeout = .finWait
            } else if src.state < .established || dst.state < .established {
                timeout = .opening
            } else if src.state >= .closing || dst.state >= .closing {
                timeout = .closing
            } else {
                timeout = .established
            }
            return (.valid, true)
        }
        let loose = (dst.state < .synSent || dst.state >= .finWait2 || src.state >= .finWait2)
            && seqGEQ(src.seqhi &+ UInt32(maxAckWindow), end)
            && seqGEQ(seq, src.seqlo &- UInt32(maxAckWindow))
        if loose {
            // Shotgunned SYNs, a stream picked up mid-flow, stray segments
            // after a close: taken, but the expiration is left alone.
            if src.maxWin < win { src.maxWin = win }
            if seqGT(end, src.seqlo) { src.seqlo = end }
            if seqGEQ(ackNo &+ scaledWin, dst.seqhi) { dst.seqhi = ackNo &+ max(scaledWin, 1) }
            if fin && src.state < .closing { src.state = .closing }
            if rst {
                src.state = .timeWait
                dst.state = .timeWait
            }
            return (.valid, false)
        }
        return (.invalid, false)
    }
}
