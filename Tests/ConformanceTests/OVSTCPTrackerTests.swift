import Foundation
@testable import ConnTrack
import FlowGen
import Harness
import Testing
import TestSupport

// OVS's TCP tracker (lib/conntrack-tcp.c, from pf) against its own rules:
// each expected value below is worked out by hand from `tcp_new_conn` and
// `tcp_conn_update` (docs/ovs-design.md, "TCP tracker"), not read back from
// this implementation.

private func tcp(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, win: UInt16 = 65535, len: UInt16 = 0,
                 wscale: UInt8 = 0) -> TCPSegment {
    TCPSegment(flags: flags, seq: seq, ack: ack, window: win, payloadLength: len, wscale: wscale)
}

private let client = TupleID(srcAddr: v4(10, 9, 0, 1), srcPort: 41_000, dstAddr: v4(192, 168, 9, 1), dstPort: 443,
                             transProto: .tcp, netProto: .ipv4)

private func packet(_ s: TCPSegment, reply: Bool = false, at t: Int64) -> Packet {
    Packet(id: reply ? client.reversed : client, tcp: s, hook: reply ? .prerouting : .output, timestamp: t)
}

private func ovsTable() -> OVSTable {
    OVSTable(TableConfig(buckets: 64, hashSeed: 5, timeouts: Timeouts(mode: .ovs)))
}

/// The connection's OVS state, as its record carries it.
private func state(_ t: OVSTable, now: Int64) -> (OVSTCPConn, ConnectionRecord)? {
    guard let r = t.exportConnections(now: now).first, let o = r.tcb.ovsTCP else { return nil }
    return (o, r)
}

/// A decision and whether it refreshed, as one comparable value.
private func outcome(_ r: (OVSTCPUpdate, refreshed: Bool)) -> String { "\(r.0) \(r.refreshed)" }

@Suite struct OVSTCPTrackerTests {
    /// SYN, SYN-ACK, ACK without window scaling: the peers' bounds after
    /// each, and the timeout class (first packet, opening until the last
    /// ACK, then established).
    @Test func theHandshakeSetsEachPeersBounds() {
        var t = OVSTCPConn(first: tcp(.syn, seq: 1000, win: 64240))
        #expect(t.original.seqlo == 1000 && t.original.seqhi == 1002 && t.original.maxWin == 64240)
        #expect(t.original.state == .synSent && t.original.wscale == 0)
        #expect(t.reply.seqhi == 1 && t.reply.maxWin == 1 && t.reply.state == .closed && t.timeout == .firstPacket)

        var r = t.update(tcp([.syn, .ack], seq: 5000, ack: 1001, win: 65160), reply: true)
        #expect(r.0 == .valid && r.refreshed)
        // The responder's first segment: its window reaches the client's
        // window past its end (5001 + 64240); the client's now reaches the
        // acknowledged byte plus the server's window (1001 + 65160).
        #expect(t.reply.seqlo == 5001 && t.reply.seqhi == 69241 && t.reply.maxWin == 65160 && t.reply.state == .synSent)
        #expect(t.original.seqlo == 1000 && t.original.seqhi == 66161 && t.original.state == .established)
        #expect(t.timeout == .opening)

        r = t.update(tcp(.ack, seq: 1001, ack: 5001, win: 64240), reply: false)
        #expect(r.0 == .valid && t.reply.state == .established && t.timeout == .established)
        #expect(t.reply.seqhi == 69241 && t.original.seqlo == 1000)

        r = t.update(tcp([.psh, .ack], seq: 1001, ack: 5001, win: 64240, len: 100), reply: false)
        #expect(r.0 == .valid && t.original.seqlo == 1101)
    }

    /// The strict test's bounds once established: data past the peer's
    /// window, a retransmission more than a window back, an acknowledgement
    /// of bytes never sent, and an RST off the sequence are refused and
    /// change nothing; a retransmission within a window and an exact RST
    /// are taken.
    @Test func segmentsOutsideTheWindowAreInvalid() {
        var t = OVSTCPConn(first: tcp(.syn, seq: 1000, win: 64240))
        _ = t.update(tcp([.syn, .ack], seq: 5000, ack: 1001, win: 65160), reply: true)
        _ = t.update(tcp(.ack, seq: 1001, ack: 5001, win: 64240), reply: false)
        _ = t.update(tcp([.psh, .ack], seq: 1001, ack: 5001, win: 64240, len: 100), reply: false)
        let settled = t

        // Ends at 71101, past seqhi 66161.
        #expect(outcome(t.update(tcp([.psh, .ack], seq: 71001, ack: 5001, len: 100), reply: false)) == "invalid false")
        // Starts before seqlo 1101 minus the server's window 65160.
        #expect(outcome(t.update(tcp([.psh, .ack], seq: 1101 &- 65170, ack: 5001, len: 10), reply: false)) == "invalid false")
        // Acknowledges 70000 bytes the server never sent (skew below -67035).
        #expect(outcome(t.update(tcp(.ack, seq: 1101, ack: 75001), reply: false)) == "invalid false")
        // An RST must carry seqlo, seqlo + 1 or seqlo - 1.
        #expect(outcome(t.update(tcp([.rst, .ack], seq: 6001, ack: 1101), reply: true)) == "invalid false")
        #expect(t == settled, "a refused segment changes nothing")

        // The first data segment again: within a window back, taken.
        #expect(outcome(t.update(tcp([.psh, .ack], seq: 1001, ack: 5001, len: 100), reply: false)) == "valid true")
        #expect(t.original.seqlo == 1101)
        #expect(outcome(t.update(tcp([.rst, .ack], seq: 5001, ack: 1101), reply: true)) == "valid true")
        #expect(t.original.state == .timeWait && t.reply.state == .timeWait && t.timeout == .closed)
    }

    /// Window scaling: both SYNs carry the option (shift 7), so the
    /// server's window of 2048 lets the client send 262144 bytes ahead;
    /// when the SYN-ACK lacks it, scaling is off and the same segment is
    /// out of the window.
    @Test(arguments: [true, false])
    func windowScalingWidensTheWindowOnlyWhenBothSidesOfferIt(_ serverScales: Bool) {
        var t = OVSTCPConn(first: tcp(.syn, seq: 1000, win: 64240, wscale: 0x87))
        // The initial window is taken unscaled: ceil(64240 / 128).
        #expect(t.original.maxWin == 502 && t.original.wscale == 0x87)
        _ = t.update(tcp([.syn, .ack], seq: 5000, ack: 1001, win: 65160, wscale: serverScales ? 0x87 : 0), reply: true)
        if serverScales {
            #expect(t.reply.maxWin == 510 && t.reply.seqhi == 5001 + 502 << 7 && t.original.seqhi == 1001 + 510 << 7)
        } else {
            // Only the client offered: its window is taken as scaled, and scaling is off.
            #expect(t.original.wscale == 0 && t.original.maxWin == 502 << 7 && t.original.seqhi == 1001 + 65160)
        }
        _ = t.update(tcp(.ack, seq: 1001, ack: 5001, win: 502), reply: false)
        #expect(t.update(tcp(.ack, seq: 5001, ack: 1001, win: 2048), reply: true).0 == .valid)
        let far = t.update(tcp([.psh, .ack], seq: 201_001, ack: 5001, win: 502, len: 1000), reply: false)
        #expect(far.0 == (serverScales ? .valid : .invalid))
    }

    /// A connection picked up mid-stream (an ACK creates it): both scales
    /// unknown, so windows are taken at the largest shift, and the
    /// responder's first segment slides its window without an ACK check.
    @Test func aStreamPickedUpMidFlowIsTakenLiberally() {
        var t = OVSTCPConn(first: tcp([.psh, .ack], seq: 7000, ack: 9000, win: 1000, len: 100))
        #expect(t.original.seqhi == 7101 && t.original.wscale == OVSTCPPeer.wscaleUnknown)
        #expect(t.reply.wscale == OVSTCPPeer.wscaleUnknown && t.original.state == .synSent)
        #expect(outcome(t.update(tcp(.ack, seq: 9000, ack: 7100, win: 1000), reply: true)) == "valid true")
        #expect(t.reply.seqhi == 9000 + 1000 << 14 && t.original.seqhi == 7100 + 1000 << 14)
        #expect(t.original.state == .established && t.reply.state == .synSent && t.timeout == .opening)
        #expect(outcome(t.update(tcp(.ack, seq: 7100, ack: 9000, win: 1000), reply: false)) == "valid true")
        #expect(t.timeout == .established)
    }

    /// After both FINs are acknowledged, data a little past the window is
    /// taken by the loose test without a refresh; while established the
    /// same segment is refused.
    @Test func theLooseTestTakesStraySegmentsAfterCloseWithoutARefresh() {
        var t = OVSTCPConn(first: tcp(.syn, seq: 100))
        _ = t.update(tcp([.syn, .ack], seq: 500, ack: 101), reply: true)
        _ = t.update(tcp(.ack, seq: 101, ack: 501), reply: false)
        var open = t
        _ = t.update(tcp([.fin, .ack], seq: 101, ack: 501), reply: false)
        #expect(t.original.state == .closing && t.timeout == .closing)
        _ = t.update(tcp([.fin, .ack], seq: 501, ack: 102), reply: true)
        #expect(t.original.state == .finWait2 && t.reply.state == .closing && t.timeout == .finWait)
        _ = t.update(tcp(.ack, seq: 102, ack: 502), reply: false)
        #expect(t.reply.state == .finWait2 && t.timeout == .closed)
        // The client may send up to 102 + 65535; this ends 10 bytes past it.
        let stray = tcp([.psh, .ack], seq: 102 + 65535 + 1, ack: 502, len: 10)
        #expect(outcome(t.update(stray, reply: false)) == "valid false")
        #expect(outcome(open.update(tcp([.psh, .ack], seq: 101 + 65535 + 1, ack: 501, len: 10), reply: false)) == "invalid false")
        // A SYN now reopens the tuple: CT_UPDATE_NEW, both peers closed.
        #expect(outcome(t.update(tcp(.syn, seq: 9000), reply: false)) == "new false")
        #expect(t.original.state == .closed && t.reply.state == .closed)
    }

    /// The state travels in a tracker block unchanged, and a record's
    /// listing names it.
    @Test func theStateRoundTripsThroughATrackerBlock() {
        var t = OVSTCPConn(first: tcp(.syn, seq: 0xFFFF_FF00, win: 1234, wscale: 0x8E))
        _ = t.update(tcp([.syn, .ack], seq: 77, ack: 0xFFFF_FF01, win: 999, wscale: 0x83), reply: true)
        let b = TCB(ovs: t)
        #expect(b.holdsOVSTCP && b.ovsTCP == t)
        #expect(!TCB().holdsOVSTCP && TCB().ovsTCP == nil)
        #expect(t.traceState == ConnTraceState(state: .synRecv, unreplied: false, assured: false))
    }

    /// Through the table: the SYN-ACK keeps the opening timeout (30 s)
    /// until the last ACK; an out-of-window segment is `inv` and does not
    /// refresh; a stray segment after the close is `est` and does not
    /// refresh either.
    @Test(.oneThread) func theTableGivesOVSsVerdictsAndExpirations() {
        let t = ovsTable()
        var c = context()
        func go(_ s: TCPSegment, reply: Bool = false, at now: Int64) -> String {
            t.track(packet(s, reply: reply, at: now), now: now, &c).state.text
        }
        #expect(go(tcp(.syn, seq: 100), at: 0) == "new|trk")
        #expect(go(tcp([.syn, .ack], seq: 500, ack: 101), reply: true, at: sec) == "est|rpl|trk")
        #expect(state(t, now: sec)?.1.timeoutLeft == 30 * sec)
        #expect(ConnTraceState(state(t, now: sec)!.1).state == .synRecv)
        #expect(go(tcp(.ack, seq: 101, ack: 501), at: 2 * sec) == "est|trk")
        #expect(state(t, now: 2 * sec)?.1.timeoutLeft == 86_400 * sec)
        #expect(go(tcp([.psh, .ack], seq: 101 + 70_000, ack: 501, len: 10), at: 3 * sec) == "inv|trk")
        #expect(state(t, now: 3 * sec)?.1.lastUsed == 2 * sec)
        #expect(go(tcp([.fin, .ack], seq: 101, ack: 501), at: 4 * sec) == "est|trk")
        #expect(go(tcp([.fin, .ack], seq: 501, ack: 102), reply: true, at: 5 * sec) == "est|rpl|trk")
        #expect(go(tcp(.ack, seq: 102, ack: 502), at: 6 * sec) == "est|trk")
        #expect(state(t, now: 6 * sec)?.1.timeoutLeft == 30 * sec)
        #expect(go(tcp([.psh, .ack], seq: 102 + 65536, ack: 502, len: 10), at: 7 * sec) == "est|trk")
        #expect(state(t, now: 7 * sec)?.1.lastUsed == 6 * sec)
        #expect(t._checkInvariants(uniqueIDs: nil).ok)
    }

    /// OVS counts time in milliseconds and a connection is expired from its
    /// expiration on (`conn_expired`: now >= expiration): a SYN at 0.9 ms
    /// expires in the millisecond 30 s later, 29.9992 s after it, and an ACK
    /// exactly 30 s after it makes a new connection.
    @Test(.oneThread) func aConnectionExpiresInItsExpirationMillisecond() {
        let t = ovsTable()
        var c = context()
        let syn = packet(tcp(.syn, seq: 100), at: 900_000)
        #expect(t.track(syn, now: syn.timestamp, &c).state.text == "new|trk")
        #expect(t.expiredCount(now: 30 * sec - 1) == 0)
        #expect(t.expiredCount(now: 30 * sec + 100_000) == 1)
        let ack = packet(tcp(.ack, seq: 101, ack: 0), at: 30 * sec + 900_000)
        #expect(t.track(ack, now: ack.timestamp, &c).state.text == "new|trk")
        #expect(c.stats.created == 2)
    }

    /// The timeout table reads an OVS block's class wherever it is asked
    /// (listings, records): an established connection lists 24 h and its
    /// state, not the first packet's 30 s.
    @Test(.oneThread) func aListingShowsOVSsClassAndState() {
        let t = ovsTable()
        var c = context()
        for (s, reply) in [(tcp(.syn, seq: 100), false), (tcp([.syn, .ack], seq: 500, ack: 101), true),
                           (tcp(.ack, seq: 101, ack: 501), false)] {
            _ = t.track(packet(s, reply: reply, at: 0), now: 0, &c)
        }
        let o = Timeouts(mode: .ovs)
        let records = t.exportConnections(now: sec)
        #expect(o.timeout(proto: .tcp, tcb: records[0].tcb, udp: UDPState()) == 86_400 * sec)
        let row = ConntrackListing.rows(records, timeouts: o, now: sec)[0]
        #expect(row.timeout == 86_399 && row.state == "ESTABLISHED" && row.assured && !row.unreplied)
    }

    /// A capture carries the SYN's window scale option: written and read
    /// back, capped at 14 as OVS caps it; other segments carry none.
    @Test func aCaptureCarriesTheWindowScaleOption() throws {
        var w = PcapWriter()
        w.append(packet(tcp(.syn, seq: 1, wscale: 0x87), at: 0))
        w.append(packet(tcp([.syn, .ack], seq: 9, ack: 2, wscale: 0x8F), reply: true, at: 1))
        w.append(packet(tcp(.ack, seq: 2, ack: 10), at: 2))
        var stats = PcapStats()
        let got = try PcapReader.parse(w.bytes, name: "wscale", stats: &stats)
        #expect(got.map(\.tcp.wscale) == [0x87, 0x8E, 0])
    }
}
