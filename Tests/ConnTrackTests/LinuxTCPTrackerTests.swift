@testable import ConnTrack
import Testing
import TestSupport

// The `linux` design's TCP tracker against facts read in the kernel's
// net/netfilter/nf_conntrack_proto_tcp.c (6.x): the transition table
// `tcp_conntracks`, transcribed here a second time in the kernel's own
// notation, row by row; and the rules of `nf_conntrack_tcp_packet` and
// `tcp_new` (docs/linux-design.md lists each with its function).

/// The kernel's rows as its source writes them (direction, flag set, then
/// the cell for sNO sSS sSR sES sFW sCW sLA sTW sCL sS2).
let kernelRows: [(dir: Int, index: LinuxTCPIndex, cells: String)] = [
    (0, .syn, "sSS sSS sIG sIG sIG sIG sIG sSS sSS sS2"),
    (0, .synAck, "sIV sIV sSR sIV sIV sIV sIV sIV sIV sSR"),
    (0, .fin, "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV"),
    (0, .ack, "sES sIV sES sES sCW sCW sTW sTW sCL sIV"),
    (0, .rst, "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL"),
    (0, .none, "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV"),
    (1, .syn, "sIV sS2 sIV sIV sIV sIV sIV sSS sIV sS2"),
    (1, .synAck, "sIV sSR sIG sIG sIG sIG sIG sIG sIG sSR"),
    (1, .fin, "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV"),
    (1, .ack, "sIV sIG sSR sES sCW sCW sTW sTW sCL sIG"),
    (1, .rst, "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL"),
    (1, .none, "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV"),
]

let kernelNames: [String: UInt8] = ["sNO": 0, "sSS": 1, "sSR": 2, "sES": 3, "sFW": 4, "sCW": 5, "sLA": 6,
                                    "sTW": 7, "sCL": 8, "sS2": 9, "sIV": 10, "sIG": 11]

let L = LinuxTimeouts()

func seg(_ f: TCPFlags, seq: UInt32 = 0, ack: UInt32 = 0) -> TCPSegment { TCPSegment(flags: f, seq: seq, ack: ack) }

@Suite(.oneThread) struct LinuxTCPTrackerTests {
    @Test func everyCellOfTheTransitionTableIsTheKernels() {
        for row in kernelRows {
            let cells = row.cells.split(separator: " ").map { kernelNames[String($0)]! }
            #expect(cells.count == 10)
            for (s, want) in cells.enumerated() {
                let got = LinuxTCPConntrack.transition(dir: row.dir, row.index, LinuxTCPConntrackState(rawValue: UInt8(s))!)
                #expect(got == want, "dir \(row.dir) \(row.index) from state \(s): \(got), kernel \(want)")
            }
        }
    }

    @Test func flagsSelectTheKernelsRowRstFirst() {
        #expect(LinuxTCPIndex([.rst, .syn, .ack]) == .rst)
        #expect(LinuxTCPIndex([.syn, .ack, .fin]) == .synAck)
        #expect(LinuxTCPIndex([.syn, .fin]) == .syn)
        #expect(LinuxTCPIndex([.fin, .ack]) == .fin)
        #expect(LinuxTCPIndex([.ack, .psh]) == .ack)
        #expect(LinuxTCPIndex([.psh]) == .none)
    }

    @Test func onlyASynOrAnAckStartsAConnection() {
        #expect(LinuxTCPConntrack.new(seg(.syn)) != nil)
        #expect(LinuxTCPConntrack.new(seg(.ack)) != nil)
        #expect(LinuxTCPConntrack.new(seg([.syn, .ack])) == nil)
        #expect(LinuxTCPConntrack.new(seg([.fin, .ack])) == nil)
        #expect(LinuxTCPConntrack.new(seg(.rst)) == nil)
        #expect(LinuxTCPConntrack.new(seg([])) == nil)
    }

    /// SYN, SYN-ACK, ACK: SYN_SENT (120 s), SYN_RECV (60 s), ESTABLISHED
    /// (5 days) and ASSURED on the ACK after SYN_RECV once a reply was seen.
    @Test func theHandshakeAndItsTimeouts() {
        var t = LinuxTCPConntrack()
        #expect(t.packet(seg(.syn, seq: 100), dir: 0, seenReply: false, assured: false, timeouts: L)
            == .accept(timeout: L.synSent, assure: false))
        #expect(t.state == .synSent)
        // A retransmitted SYN does not renew the timeout.
        #expect(t.packet(seg(.syn, seq: 100), dir: 0, seenReply: false, assured: false, timeouts: L)
            == .accept(timeout: nil, assure: false))
        #expect(t.packet(seg([.syn, .ack], seq: 900, ack: 101), dir: 1, seenReply: false, assured: false, timeouts: L)
            == .accept(timeout: 60 * sec, assure: false))
        #expect(t.state == .synRecv)
        #expect(t.packet(seg(.ack, seq: 101, ack: 901), dir: 0, seenReply: true, assured: false, timeouts: L)
            == .accept(timeout: 5 * Duration_ns.day, assure: true))
        #expect(t.state == .established)
        // Once assured, no second assure.
        #expect(t.packet(seg(.ack, seq: 101, ack: 901), dir: 1, seenReply: true, assured: true, timeouts: L)
            == .accept(timeout: 5 * Duration_ns.day, assure: false))
    }

    /// FIN from the client: FIN_WAIT; its ACK: CLOSE_WAIT; the server's
    /// FIN: LAST_ACK; the last ACK: TIME_WAIT (120 s).
    @Test func theCloseSequence() {
        var t = LinuxTCPConntrack(state: .established)
        _ = t.packet(seg([.fin, .ack]), dir: 0, seenReply: true, assured: true, timeouts: L)
        #expect(t.state == .finWait && t.closeInit == 1)
        _ = t.packet(seg(.ack), dir: 1, seenReply: true, assured: true, timeouts: L)
        #expect(t.state == .closeWait)
        #expect(t.packet(seg([.fin, .ack]), dir: 1, seenReply: true, assured: true, timeouts: L)
            == .accept(timeout: 30 * sec, assure: false))
        #expect(t.state == .lastAck)
        #expect(t.packet(seg(.ack), dir: 0, seenReply: true, assured: true, timeouts: L)
            == .accept(timeout: 120 * sec, assure: false))
        #expect(t.state == .timeWait)
        // A new SYN from the client on TIME_WAIT after a FIN close reopens it.
        #expect(t.packet(seg(.syn, seq: 7), dir: 0, seenReply: true, assured: true, timeouts: L) == .reopen)
        // So does the server's, as the kernel allows a switched role.
        var u = t
        #expect(u.packet(seg(.syn, seq: 7), dir: 1, seenReply: true, assured: true, timeouts: L) == .reopen)
    }

    /// A SYN on CLOSE reached by an RST from the other side, with no FIN,
    /// is ignored; after an RST from the same side it reopens.
    @Test func aSynAfterAResetReopensOnlyFromTheResettingSide() {
        var t = LinuxTCPConntrack(state: .established)
        #expect(t.packet(seg(.rst), dir: 1, seenReply: true, assured: true, timeouts: L)
            == .accept(timeout: 10 * sec, assure: false))
        #expect(t.state == .close)
        var a = t
        #expect(a.packet(seg(.syn), dir: 0, seenReply: true, assured: true, timeouts: L) == .ignored)
        #expect(a.state == .close && a.lastIndex == .syn)
        var b = LinuxTCPConntrack(state: .established)
        _ = b.packet(seg(.rst), dir: 0, seenReply: true, assured: true, timeouts: L)
        #expect(b.packet(seg(.syn), dir: 0, seenReply: true, assured: true, timeouts: L) == .reopen)
    }

    @Test func anRstBeforeAnyReplyKillsTheConnection() {
        var t = LinuxTCPConntrack()
        _ = t.packet(seg(.syn), dir: 0, seenReply: false, assured: false, timeouts: L)
        #expect(t.packet(seg([.rst, .ack]), dir: 1, seenReply: false, assured: false, timeouts: L) == .acceptAndKill)
    }

    @Test func invalidAndIgnoredSegments() {
        var t = LinuxTCPConntrack()
        _ = t.packet(seg(.syn), dir: 0, seenReply: false, assured: false, timeouts: L)
        // sSS: an ACK from the client is invalid; from the server ignored.
        #expect(t.packet(seg(.ack), dir: 0, seenReply: false, assured: false, timeouts: L) == .invalid)
        #expect(t.packet(seg(.ack), dir: 1, seenReply: false, assured: false, timeouts: L) == .ignored)
        #expect(t.state == .synSent)
        // A flagless segment is invalid everywhere.
        var e = LinuxTCPConntrack(state: .established)
        #expect(e.packet(seg([]), dir: 0, seenReply: true, assured: true, timeouts: L) == .invalid)
    }

    /// A SYN-ACK that answers a SYN ignored in ESTABLISHED resynchronises
    /// the tracker to SYN_RECV.
    @Test func aSynAckAnsweringAnIgnoredSynResyncs() {
        var t = LinuxTCPConntrack(state: .established)
        #expect(t.packet(seg(.syn, seq: 500), dir: 0, seenReply: true, assured: true, timeouts: L) == .ignored)
        #expect(t.packet(seg([.syn, .ack], seq: 9, ack: 501), dir: 1, seenReply: true, assured: true, timeouts: L)
            == .accept(timeout: 60 * sec, assure: false))
        #expect(t.state == .synRecv)
    }

    /// An ACK picks up a connection in the middle: ESTABLISHED, but until
    /// a reply its timeout is capped at UNACK (300 s).
    @Test func aPickedUpConnectionWaitsForAReply() {
        var t = LinuxTCPConntrack()
        #expect(t.packet(seg(.ack), dir: 0, seenReply: false, assured: false, timeouts: L)
            == .accept(timeout: 300 * sec, assure: false))
        #expect(t.state == .established)
        // The reply's ACK assures it (ESTABLISHED after ESTABLISHED).
        #expect(t.packet(seg(.ack), dir: 1, seenReply: false, assured: false, timeouts: L)
            == .accept(timeout: 300 * sec, assure: false))
        #expect(t.packet(seg(.ack), dir: 0, seenReply: true, assured: false, timeouts: L)
            == .accept(timeout: 5 * Duration_ns.day, assure: true))
    }

    @Test func simultaneousOpen() {
        var t = LinuxTCPConntrack()
        _ = t.packet(seg(.syn), dir: 0, seenReply: false, assured: false, timeouts: L)
        _ = t.packet(seg(.syn), dir: 1, seenReply: false, assured: false, timeouts: L)
        #expect(t.state == .synSent2 && t.simultaneousOpen)
        _ = t.packet(seg([.syn, .ack]), dir: 0, seenReply: true, assured: false, timeouts: L)
        #expect(t.state == .synRecv)
        _ = t.packet(seg(.ack), dir: 1, seenReply: true, assured: false, timeouts: L)
        #expect(t.state == .established)
    }

    @Test func theRecordRoundTripsThroughATrackerBlock() {
        var t = LinuxTCPConntrack(state: .timeWait)
        t.lastIndex = .ack; t.lastDir = 1; t.closeInit = 3; t.lastEnd = 0xDEAD_BEEF; t.simultaneousOpen = true
        let r = LinuxConntrackRecord(tcp: t, seenReply: true, assured: false, expires: 77 * sec, streamAt: 3 * sec)
        let block = r.encoded(lastUsed: 5 * sec)
        #expect(LinuxConntrackRecord(decoding: block, lastUsed: 5 * sec) == r)
        // Rebased with `lastUsed`, the times move with it.
        #expect(LinuxConntrackRecord(decoding: block, lastUsed: 6 * sec)?.expires == 78 * sec)
        #expect(LinuxConntrackRecord(decoding: TCB(), lastUsed: 0) == nil)
    }
}
