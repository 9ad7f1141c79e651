import Foundation
import Testing
@testable import ConnTrack
import TestSupport

@Suite(.oneThread) struct TrackerTests {
    func seg(_ f: TCPFlags, _ seq: UInt32, _ ack: UInt32 = 0, len: UInt16 = 0, win: UInt16 = 65535) -> TCPSegment {
        TCPSegment(flags: f, seq: seq, ack: ack, window: win, payloadLength: len)
    }

    func established(iss: UInt32 = 1000, irs: UInt32 = 5000) -> TCB {
        var t = TCB()
        #expect(t.initialise(seg(.syn, iss)) == .connecting)
        #expect(t.updateInbound(seg([.syn, .ack], irs, iss &+ 1)) == .alive)
        #expect(t.updateOutbound(seg(.ack, iss &+ 1, irs &+ 1)) == .alive)
        return t
    }

    @Test func handshakeReachesAlive() {
        let t = established()
        #expect(t.state == .alive)
        #expect(t.isAlive)
    }

    @Test func rstInSynSentWithAckResets() {
        var t = TCB()
        t.initialise(seg(.syn, 1000))
        #expect(t.updateInbound(seg([.rst, .ack], 0, 1001)) == .reset)
        #expect(t.state == .reset)
        #expect(t.inbound.rstSeen)
    }

    @Test func rstInSynSentWithoutAckIsIgnored() {
        var t = TCB()
        t.initialise(seg(.syn, 1000))
        #expect(t.updateInbound(seg(.rst, 0)) == .connecting)
        #expect(t.state == .connecting)
        #expect(!t.inbound.rstSeen)
    }

    @Test func unacceptableAckInSynSentIsIgnored() {
        var t = TCB()
        t.initialise(seg(.syn, 1000))
        #expect(t.updateInbound(seg([.syn, .ack], 5000, 999_999)) == .connecting)
        #expect(t.phase == .synSent)
    }

    @Test func retransmittedSynIsAccepted() {
        var t = TCB()
        t.initialise(seg(.syn, 1000, win: 100))
        #expect(t.updateOutbound(seg(.syn, 1000, win: 300)) == .connecting)
        #expect(t.inbound.end == 300)
    }

    @Test func nonSynOutboundInSynSentIsDropped() {
        var t = TCB()
        t.initialise(seg(.syn, 1000))
        #expect(t.updateOutbound(seg(.ack, 1001, 0)) == .drop)
        #expect(t.updateOutbound(seg(.syn, 2000)) == .drop)
        #expect(t.state == .connecting, "Drop never changes the state")
    }

    @Test func outOfWindowSegmentIsIgnored() {
        var t = established()
        let before = t
        // A FIN far outside the peer's window: ignored, nothing recorded.
        #expect(t.updateInbound(seg([.fin, .ack], 5001 &+ 1_000_000, 1001)) == .alive)
        #expect(t == before)
    }

    @Test func finFromSelfFirstGivesClosedBySelf() {
        var t = established()
        #expect(t.updateOutbound(seg([.fin, .ack], 1001, 5001)) == .alive)
        #expect(t.updateInbound(seg([.fin, .ack], 5001, 1002)) == .alive)
        #expect(t.updateOutbound(seg(.ack, 1002, 5002)) == .closedBySelf)
        #expect(!t.isAlive)
    }

    @Test func finFromPeerFirstGivesClosedByPeer() {
        var t = established()
        #expect(t.updateInbound(seg([.fin, .ack], 5001, 1001)) == .alive)
        #expect(t.updateOutbound(seg([.fin, .ack], 1001, 5002)) == .alive)
        #expect(t.updateInbound(seg(.ack, 5002, 1002)) == .closedByPeer)
    }

    @Test func rstWhenEstablishedResets() {
        var t = established()
        #expect(t.updateInbound(seg(.rst, 5001)) == .reset)
        #expect(t.state == .reset)
    }

    @Test func sequenceNumbersWrapPast2To32() {
        let iss: UInt32 = .max - 10
        var t = established(iss: iss, irs: .max - 3)
        // 100 bytes of data from self crosses 2^32.
        #expect(t.updateOutbound(seg(.ack, iss &+ 1, (.max - 3) &+ 1, len: 100)) == .alive)
        #expect(t.outbound.nxt == iss &+ 101)
        #expect(t.updateInbound(seg(.ack, (.max - 3) &+ 1, iss &+ 101)) == .alive)
        #expect(t.outbound.una == iss &+ 101)
        #expect(t.outbound.una < 100, "wrapped")
        #expect(t.updateOutbound(seg([.fin, .ack], iss &+ 101, (.max - 3) &+ 1)) == .alive)
        #expect(t.updateInbound(seg([.fin, .ack], (.max - 3) &+ 1, iss &+ 102)) == .alive)
        #expect(t.updateOutbound(seg(.ack, iss &+ 102, (.max - 3) &+ 2)) == .closedBySelf)
    }

    /// gVisor's 2020 `header.Acceptable`: the window end is inclusive, a
    /// zero window takes only an empty segment at una.
    @Test func windowAcceptanceIsTheSeedsAcceptableForm() {
        var s = TCPStream()
        s.una = 100; s.end = 200
        #expect(s.acceptable(100, 0) && s.acceptable(200, 0))   // empty: [una, end] inclusive
        #expect(!s.acceptable(201, 0) && !s.acceptable(99, 0))
        #expect(s.acceptable(200, 10))                           // data starting at end
        #expect(!s.acceptable(201, 10))
        #expect(s.acceptable(95, 10) && !s.acceptable(90, 10))   // must reach past una
        s.end = 100                                              // zero window
        #expect(s.acceptable(100, 0) && !s.acceptable(100, 1) && !s.acceptable(101, 0))
    }

    /// The packed block (both streams' flags in one byte) reads back every
    /// field it was given, stream by stream, and codes as the unpacked one.
    @Test func thePackedBlockKeepsEachStreamsFlags() throws {
        for bits in 0..<16 {
            var i = TCPStream(), o = TCPStream()
            i.una = 1; i.nxt = 2; i.end = 3; i.fin = 4
            o.una = 5; o.nxt = 6; o.end = 7; o.fin = 8
            i.finSeen = bits & 1 != 0; i.rstSeen = bits & 2 != 0
            o.finSeen = bits & 4 != 0; o.rstSeen = bits & 8 != 0
            var t = TCB(state: .alive, phase: .established, firstFin: .inbound, inbound: i, outbound: o)
            #expect(t.inbound == i && t.outbound == o)
            #expect(t.isEmpty == false)
            let coded = try JSONEncoder().encode(t)
            #expect(try JSONDecoder().decode(TCB.self, from: coded) == t)
            let keys = try #require(JSONSerialization.jsonObject(with: coded) as? [String: Any]).keys.sorted()
            #expect(keys == ["firstFin", "inbound", "outbound", "phase", "state"])
            t.inbound = TCPStream()
            #expect(t.inbound == TCPStream() && t.outbound == o, "setting one stream leaves the other's flags")
        }
        #expect(MemoryLayout<TCB>.size == 36)
        #expect(TCB().isEmpty)
    }
}
