import Foundation
import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import Sync
import TestSupport

/// Collects the tables a run saves.
final class Saved: @unchecked Sendable {
    let lock = HeapMutex()
    var mid: TableSnapshot?
    var end: TableSnapshot?
    func take(_ s: TableSnapshot, _ atEnd: Bool) { lock.withLock { if atEnd { end = s } else { mid = s } } }
}

@Suite struct SnapshotTests {
    /// Deterministic, NAT + UDP + IPv6 (the mix), reaper on.
    func config(_ v: Variant) -> RunConfig {
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 77, variant: v)
        c.scenario.scenario = .mix
        c.scenario.flows = 1500
        c.scenario.packets = 40_000
        c.scenario.duration = 400 * Duration_ns.second
        c.threads = 1
        c.deterministic = true
        c.chunk = 4096
        c.checkLockOrder = true
        c.reaperStartDelay = 2 * Duration_ns.second
        return c
    }

    func run(_ c: RunConfig) throws -> (RunReport, Saved) {
        var c = c
        let saved = Saved()
        c.saveAtEnd = true
        c.onSnapshot = { saved.take($0, $1) }
        return (try Runner.run(c), saved)
    }

    /// The reaper's passes without their wall-clock durations.
    func passes(_ s: TableSnapshot?) -> [ReaperPassRecord] {
        (s?.header.reaper?.history ?? []).map { var p = $0; p.durationNanos = 0; return p }
    }

    /// Saved at 150 s, restored (through the file's bytes) and continued:
    /// the report, the table, the reaper's interval sequence and the
    /// invariant report equal those of the run that was never split.
    @Test(.oneThread, arguments: Variant.allCases)
    func aSplitRunEqualsTheUnsplitOne(_ v: Variant) throws {
        let (whole, wholeSaved) = try run(config(v))
        var c1 = config(v)
        c1.saveAt = 150 * Duration_ns.second
        let (first, firstSaved) = try run(c1)
        let mid = try #require(firstSaved.mid)
        #expect(try HarnessTests().deterministicJSON(first) == HarnessTests().deterministicJSON(whole))
        let file = try mid.encoded()
        let back = try TableSnapshot.decode(file, name: "mid")
        #expect(back.records == mid.records.map { var r = $0; r.timeoutLeft = 0; return r })
        #expect(back.header == mid.header)
        var c2 = config(v)
        c2.restore = back
        // afterLoad's delay would move the next pass; 0 keeps it where it was.
        c2.reaperStartDelay = 0
        var (second, secondSaved) = try run(c2)
        #expect(second.restoredConnections == mid.records.count)
        // What only a restored run reports.
        second.restoredConnections = nil; second.restoreSeconds = nil; second.restoreLoadSeconds = nil
        #expect(try HarnessTests().deterministicJSON(second) == HarnessTests().deterministicJSON(whole))
        #expect(second.invariants == whole.invariants)
        #expect(passes(secondSaved.end) == passes(wholeSaved.end))
        #expect(passes(secondSaved.end).count == second.reaperPasses)
        #expect(secondSaved.end?.records == wholeSaved.end?.records)
        #expect(mid.records.count > 100 && mid.header.reaper != nil && mid.header.streamPositions?.first ?? 0 > 0)
        #expect(mid.records.contains { $0.nat } && mid.records.contains { $0.original.transProto == .udp }
                && mid.records.contains { $0.original.netProto == .ipv6 })
    }

    /// A 2-worker lock-step run saves at a window boundary (the leader,
    /// every worker waiting) and a restored 2-worker run goes on from each
    /// stream's position with every saved connection.
    @Test func aWindowedRunSavesAtAWindowBoundaryAndGoesOn() throws {
        var c1 = config(.fixed)
        c1.deterministic = false
        c1.threads = 2
        c1.saveAt = 150 * Duration_ns.second
        let (first, saved) = try run(c1)
        let mid = try #require(saved.mid)
        #expect(first.invariants.ok && first.packets == 40_000)
        #expect(mid.header.streamPositions?.count == 2 && mid.header.streamPositions!.allSatisfy { $0 > 0 })
        #expect(mid.header.savedAt < 150 * Duration_ns.second)
        var c2 = c1
        c2.saveAt = nil
        c2.restore = try TableSnapshot.decode(try mid.encoded(), name: "windowed")
        let (second, after) = try run(c2)
        #expect(second.invariants.ok && second.outcome == .ok)
        // The packets of the first part are counted once: the streams resumed.
        #expect(second.packets == 40_000)
        #expect(second.restoredConnections == mid.records.count)
        #expect(after.end != nil)
    }

    /// With the default start delay the restored reaper waits, as afterLoad does.
    @Test(.oneThread) func theRestoredReaperStartsAfterItsDelay() throws {
        var c1 = config(.fixed)
        c1.saveAt = 150 * Duration_ns.second
        let (_, saved) = try run(c1)
        let mid = try #require(saved.mid)
        var c2 = config(.fixed)
        c2.restore = mid
        c2.reaperStartDelay = 30 * Duration_ns.second
        let (_, after) = try run(c2)
        let firstAfter = passes(after.end).dropFirst(mid.header.reaper!.passes).first
        #expect(firstAfter?.at ?? 0 >= mid.header.savedAt + 30 * Duration_ns.second)
    }

    /// --rehash: another bucket count, or another design, keeps every connection.
    @Test(.oneThread, arguments: [("buckets", Variant?.some(.fixed), 4096), ("global-lock", nil, 512)])
    func rehashKeepsEveryConnection(_ design: String, _ v: Variant?, _ buckets: Int) throws {
        var c1 = config(.fixed)
        c1.saveAt = 150 * Duration_ns.second
        let (_, saved) = try run(c1)
        let mid = try #require(saved.mid)
        var c2 = config(.fixed)
        c2.design = design
        c2.table = TableConfig(buckets: buckets, hashSeed: design == "buckets" ? 1 : nil, variant: v)
        c2.reaperEnabled = false
        c2.scenario.packets = 1
        c2.restore = mid
        #expect(throws: ConfigError.self) { try Runner.run(c2) }
        c2.rehash = true
        let (r, after) = try run(c2)
        #expect(Set(after.end!.records.map(\.original)).isSuperset(of: mid.records.map(\.original)))
        #expect(r.invariants.ok)
    }

    func expectRefused(_ bytes: [UInt8], _ phrase: String, offset: Int? = nil) {
        do {
            _ = try TableSnapshot.decode(bytes, name: "bad")
            Issue.record("accepted a file that should fail with '\(phrase)'")
        } catch {
            #expect(error.description.contains(phrase), "\(error)")
            #expect(error.description.contains("at byte offset \(offset.map(String.init) ?? "")"), "\(error)")
        }
    }

    /// Every bad file: one line naming the problem and its byte offset.
    @Test(.oneThread) func badFilesAreRefusedWithTheProblemAndItsOffset() throws {
        var c1 = config(.fixed)
        c1.saveAt = 150 * Duration_ns.second
        let (_, saved) = try run(c1)
        let good = try #require(saved.mid)
        let file = try good.encoded()
        let h = Int(file[12]) | Int(file[13]) << 8 | Int(file[14]) << 16 | Int(file[15]) << 24
        func resealed(_ b: [UInt8]) -> [UInt8] {
            var b = b
            let crc = CRC32C.of(Array(b[0..<(b.count - 4)]))
            for i in 0..<4 { b[b.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            return b
        }
        expectRefused(Array(file.dropLast(200)), "truncated", offset: file.count - 200)
        var magic = file; magic[0] = 0x58
        expectRefused(magic, "wrong magic", offset: 0)
        var newer = file; newer[8] = 2
        expectRefused(newer, "format version 2 is newer", offset: 8)
        var damaged = file; damaged[16 + h + 5] ^= 0x40
        expectRefused(damaged, "checksum mismatch", offset: file.count - 4)
        var more = good; more.header.connections += 1
        expectRefused(try more.encoded(), "does not match the body")
        var orphan = file
        let r1 = TableSnapshot.recordOffset(1, headerLength: h)
        for i in (r1 + 38)..<(r1 + 76) { orphan[i] = 0 }
        expectRefused(resealed(orphan), "record 1: the reply tuple (the original's partner) is missing", offset: r1 + 38)
        var badProto = file; badProto[r1 + 36] = 1
        expectRefused(resealed(badProto), "record 1: transport protocol 1", offset: r1 + 36)
        // Duplicates are the design's rule: refused on restore, nothing loaded.
        var dup = good; dup.records[1] = dup.records[0]
        let parsed = try TableSnapshot.decode(try dup.encoded(), name: "dup")
        var c2 = config(.fixed)
        c2.restore = parsed
        do {
            _ = try Runner.run(c2)
            Issue.record("restored a table with a duplicate tuple")
        } catch {
            #expect(error.description.contains("dup: record 1: duplicate tuple"), "\(error)")
            #expect(error.description.contains("at byte offset \(TableSnapshot.recordOffset(1, headerLength: parsed.file!.headerLength))"))
        }
    }

    /// Linux's states: FIN_WAIT on the first FIN from either side, CLOSE_WAIT
    /// once it is acknowledged, and `--timeouts linux` follows them.
    @Test(.oneThread) func linuxStatesFollowTheFinAndItsAck() {
        var t = TCB()
        t.initialise(TCPSegment(flags: .syn, seq: 100))
        #expect(t.linuxState == .synSent && !t.seenReply)
        t.updateInbound(TCPSegment(flags: [.syn, .ack], seq: 500, ack: 101))
        t.updateOutbound(TCPSegment(flags: .ack, seq: 101, ack: 501))
        #expect(t.linuxState == .established && t.seenReply && t.assured)
        // The reply side closes first.
        t.updateInbound(TCPSegment(flags: [.fin, .ack], seq: 501, ack: 101))
        #expect(t.linuxState == .finWait)
        let linux = Timeouts(mode: .linux)
        #expect(linux.timeout(proto: .tcp, tcb: t, udp: UDPState()) == linux.finWait)
        t.updateOutbound(TCPSegment(flags: .ack, seq: 101, ack: 502))
        #expect(t.linuxState == .closeWait)
        #expect(linux.timeout(proto: .tcp, tcb: t, udp: UDPState()) == linux.closeWait)
        t.updateOutbound(TCPSegment(flags: [.fin, .ack], seq: 101, ack: 502))
        #expect(t.linuxState == .lastAck)
        t.updateInbound(TCPSegment(flags: .ack, seq: 502, ack: 102))
        #expect(t.linuxState == .timeWait)
    }

    /// Rows as conntrack -L prints them, and the same rows as CSV and JSON.
    @Test(.oneThread) func listingsReadLikeConntrack() throws {
        let id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 40000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        var tcb = TCB()
        tcb.initialise(TCPSegment(flags: .syn, seq: 1))
        let v6 = TupleID(srcAddr: IPAddress(hi: 0xfd00_0000_0000_0000, lo: 1), srcPort: 5353,
                         dstAddr: IPAddress(hi: 0xfd00_0000_0000_0000, lo: 2), dstPort: 53, transProto: .udp, netProto: .ipv6)
        var udp = UDPState(); udp.initialised = true
        let recs = [ConnectionRecord(original: id, reply: id.reversed, hook: .output, nat: false, tcb: tcb, udp: UDPState(),
                                     lastUsed: 0, timeoutLeft: 0),
                    ConnectionRecord(original: v6, reply: v6.reversed, hook: .output, nat: false, tcb: TCB(), udp: udp,
                                     lastUsed: 0, timeoutLeft: 0)]
        let rows = ConntrackListing.rows(recs, timeouts: Timeouts(mode: .linux), now: 10 * Duration_ns.second)
        #expect(ConntrackListing.text(rows) == """
            tcp      6 110 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000
            udp      17 20 src=fd00::1 dst=fd00::2 sport=5353 dport=53 [UNREPLIED] src=fd00::2 dst=fd00::1 sport=53 dport=5353

            """)
        #expect(ConntrackListing.csv(rows).split(separator: "\n").count == 3)
        let json = try ConntrackListing.render(rows, .json)
        #expect(try JSONDecoder().decode([ConntrackRow].self, from: Data(json.utf8)) == rows)
    }
}
