// The `ovs` design keeps OVS's TCP state (`OVSTCPConn`, 25 bytes) in the
// connection block's tracker field, so the block keeps its size and every
// path that carries a tracker block (export, import, saved tables, dumps)
// carries it unchanged, as `linux` carries its own. A gVisor block never
// holds `drop` with a non-zero stream (its state leaves `drop` when it is
// initialised), so the marker cannot be mistaken for one.
extension TCB {
    /// Marks a tracker block that holds OVS's TCP state ("OVST").
    static let ovsMagic: UInt32 = 0x4F56_5354

    /// A block holding OVS's TCP state: each peer's sequence bounds in a
    /// stream's `una` and `nxt`, its window, scale and state packed in its
    /// `end`; the timeout class in the originator's `fin`, the marker in
    /// the responder's.
    public init(ovs t: OVSTCPConn) {
        self.init()
        ovsTCPUnchecked = t
    }

    /// Whether the block holds OVS's TCP state.
    @inline(__always)
    public var holdsOVSTCP: Bool { state == .drop && inSeq.fin == Self.ovsMagic }

    /// OVS's TCP state, when the block holds one.
    public var ovsTCP: OVSTCPConn? { holdsOVSTCP ? ovsTCPUnchecked : nil }

    @inline(__always)
    static func peer(_ q: StreamSeq) -> OVSTCPPeer {
        var p = OVSTCPPeer()
        p.seqlo = q.una
        p.seqhi = q.nxt
        p.maxWin = UInt16(truncatingIfNeeded: q.end)
        p.wscale = UInt8(truncatingIfNeeded: q.end >> 16)
        p.state = OVSTCPState(rawValue: UInt8(truncatingIfNeeded: q.end >> 24)) ?? .closed
        return p
    }

    @inline(__always)
    static func packed(_ p: OVSTCPPeer, fin: UInt32) -> StreamSeq {
        StreamSeq(una: p.seqlo, nxt: p.seqhi,
                  end: UInt32(p.maxWin) | UInt32(p.wscale) << 16 | UInt32(p.state.rawValue) << 24, fin: fin)
    }

    /// The timeout class alone, read without the peers (the expiry checks
    /// need nothing else). Preconditions: `holdsOVSTCP`.
    @inline(__always)
    var ovsTimeoutUnchecked: OVSTCPTimeout {
        assert(holdsOVSTCP, "not an OVS tracker block")
        return OVSTCPTimeout(rawValue: UInt8(truncatingIfNeeded: outSeq.fin)) ?? .firstPacket
    }

    /// OVS's TCP state. Preconditions (get): `holdsOVSTCP`.
    var ovsTCPUnchecked: OVSTCPConn {
        @inline(__always) get {
            assert(holdsOVSTCP, "not an OVS tracker block")
            var t = OVSTCPConn()
            t.original = Self.peer(outSeq)
            t.reply = Self.peer(inSeq)
            t.timeout = ovsTimeoutUnchecked
            return t
        }
        @inline(__always) set {
            outSeq = Self.packed(newValue.original, fin: UInt32(newValue.timeout.rawValue))
            inSeq = Self.packed(newValue.reply, fin: Self.ovsMagic)
        }
    }
}

extension OVSTCPConn {
    /// The state of a connection tracked by another design's tracker (an
    /// import into `ovs`), as OVS would hold it had it picked the
    /// connection up mid-stream (`tcp_new_conn` without a SYN): scaling
    /// unknown, each side's bounds from its stream, the peers' states from
    /// the Linux state the block maps to.
    public init(converting t: TCB) {
        if let o = t.ovsTCP { self = o; return }
        self.init()
        let out = t.outbound, inb = t.inbound
        original.seqlo = out.nxt
        original.seqhi = out.end
        original.maxWin = UInt16(clamping: out.end &- out.una)
        original.wscale = OVSTCPPeer.wscaleUnknown
        reply.seqlo = inb.nxt
        reply.seqhi = inb.end
        reply.maxWin = UInt16(clamping: inb.end &- inb.una)
        reply.wscale = OVSTCPPeer.wscaleUnknown
        switch t.linuxState {
        case .none, .synSent, .synSent2:
            (original.state, reply.state, timeout) = (.synSent, .closed, .firstPacket)
        case .synRecv:
            (original.state, reply.state, timeout) = (.established, .synSent, .opening)
        case .established:
            (original.state, reply.state, timeout) = (.established, .established, .established)
        case .finWait, .closeWait:
            (original.state, reply.state, timeout) = (.closing, .established, .closing)
        case .lastAck:
            (original.state, reply.state, timeout) = (.closing, .closing, .finWait)
        case .timeWait:
            (original.state, reply.state, timeout) = (.finWait2, .finWait2, .closed)
        case .close:
            (original.state, reply.state, timeout) = (.timeWait, .timeWait, .closed)
        }
    }

    /// The state as `conntrack -L` would name its Linux counterpart, for
    /// listings and events: SYN_SENT until the responder answers, SYN_RECV
    /// until the handshake's last ACK (OVS's opening), then by the FINs:
    /// one sent, FIN_WAIT; acknowledged, CLOSE_WAIT; both sent, LAST_ACK;
    /// both acknowledged, TIME_WAIT; a reset, CLOSE.
    public var traceState: ConnTraceState {
        let a = original.state, b = reply.state
        let s: LinuxTCPState
        if a >= .finWait2 && b >= .finWait2 {
            s = a == .timeWait || b == .timeWait ? .close : .timeWait
        } else if a >= .closing && b >= .closing {
            s = .lastAck
        } else if b < .synSent {
            s = .synSent
        } else if a < .established || b < .established {
            s = .synRecv
        } else if a >= .closing || b >= .closing {
            s = a >= .finWait2 || b >= .finWait2 ? .closeWait : .finWait
        } else {
            s = .established
        }
        // Replied once the responder sent; assured once both sides were
        // established (OVS itself has no such flag).
        return ConnTraceState(state: s, unreplied: b < .synSent, assured: a >= .established && b >= .established)
    }
}

extension Timeouts {
    /// The timeout of an OVS TCP class. With OVS's values (`--timeouts
    /// ovs`) each class has its own: first packet and opening 30 s (the
    /// SYN_SENT and SYN_RECV attributes; both are `synSent` here),
    /// established 24 h, closing 15 min (`finWait`), FIN_WAIT 45 s
    /// (`lastAck`), closed 30 s (`close`). The seed's pair gives
    /// `established` to the established class and `other` to the rest.
    @inline(__always)
    public func ovsTCP(_ c: OVSTCPTimeout) -> Int64 {
        switch mode {
        case .seed:
            return c == .established ? established : other
        case .linux, .ovs:
            switch c {
            case .firstPacket, .opening: return synSent
            case .established: return established
            case .closing: return finWait
            case .finWait: return lastAck
            case .closed: return close
            }
        }
    }
}
