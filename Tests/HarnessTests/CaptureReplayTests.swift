import ConnTrack
import Foundation
import Testing
@testable import FlowGen
@testable import Harness
import TestSupport

/// The shared replay of a capture (`CaptureReplay`) against the whole-file
/// read (`PcapReader.read`): the same packets in the same order for every
/// worker, in every capture format, in and out of timestamp order, however
/// the workers' fills interleave; files cut short before and during a run.
@Suite struct CaptureReplayTests {
    enum Format: String, CaseIterable, CustomStringConvertible {
        case nsLittle, usLittle, nsBig, usBig, ngLittleNs, ngBigUs
        var description: String { rawValue }
    }

    /// Deterministic xorshift: every interleaving is reproducible.
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    /// Generated packets (TCP and UDP, IPv4 and IPv6), shuffled out of
    /// timestamp order on request (neighbours swapped, some timestamps
    /// repeated so ties must keep file order).
    static func packets(count: Int = 3000, shuffled: Bool) -> [Packet] {
        var o = ScenarioOptions()
        o.flows = 200; o.packets = count; o.scenario = .mix; o.natFraction = 0; o.ipv6Ratio = 0.4
        var g = FlowGenerator(o)
        var ps: [Packet] = []
        while let p = g.next() { ps.append(p) }
        if shuffled {
            for i in stride(from: 0, to: ps.count - 7, by: 7) {
                ps.swapAt(i, i + 6)
                ps[i + 2].timestamp = ps[i + 1].timestamp
            }
        }
        return ps
    }

    /// The records (timestamp in ns, frame bytes) of a file `PcapWriter` wrote.
    static func records(_ b: [UInt8]) -> [(ts: UInt64, frame: ArraySlice<UInt8>)] {
        func le32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        var out: [(ts: UInt64, frame: ArraySlice<UInt8>)] = []
        var o = 24
        while o + 16 <= b.count {
            let n = Int(le32(o + 8))
            out.append((UInt64(le32(o)) * 1_000_000_000 + UInt64(le32(o + 4)), b[o + 16..<o + 16 + n]))
            o += 16 + n
        }
        return out
    }

    /// The packets written in `format`; microsecond formats keep whole µs.
    static func file(_ ps: [Packet], _ format: Format) -> [UInt8] {
        var w = PcapWriter()
        for p in ps { w.append(p) }
        let recs = records(w.bytes)
        var out: [UInt8] = []
        func u16(_ v: UInt16, _ big: Bool) { out += big ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
        func u32(_ v: UInt32, _ big: Bool) {
            let le = [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
            out += big ? le.reversed() : le
        }
        switch format {
        case .nsLittle, .usLittle, .nsBig, .usBig:
            let big = format == .nsBig || format == .usBig
            let ns = format == .nsLittle || format == .nsBig
            u32(ns ? 0xa1b2_3c4d : 0xa1b2_c3d4, big); u16(2, big); u16(4, big); u32(0, big); u32(0, big); u32(65535, big); u32(1, big)
            for r in recs {
                u32(UInt32(r.ts / 1_000_000_000), big)
                u32(UInt32(ns ? r.ts % 1_000_000_000 : r.ts % 1_000_000_000 / 1000), big)
                u32(UInt32(r.frame.count), big); u32(UInt32(r.frame.count), big)
                out += r.frame
            }
        case .ngLittleNs, .ngBigUs:
            let big = format == .ngBigUs
            func block(_ type: UInt32, _ body: () -> Void) {
                let start = out.count
                u32(type, big); u32(0, big)
                body()
                while out.count % 4 != 0 { out.append(0) }
                let len = UInt32(out.count - start + 4)
                u32(len, big)
                let l = big ? [UInt8(len >> 24), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff)]
                    : [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(len >> 16 & 0xff), UInt8(len >> 24)]
                out.replaceSubrange(start + 4..<start + 8, with: l)
            }
            block(0x0a0d_0d0a) { u32(0x1a2b_3c4d, big); u16(1, big); u16(0, big); u32(0xffff_ffff, big); u32(0xffff_ffff, big) }
            block(1) {
                u16(1, big); u16(0, big); u32(65535, big)
                // ns: if_tsresol 9; µs: the default resolution.
                if !big { u16(9, big); u16(1, big); out += [9, 0, 0, 0] }
                u16(0, big); u16(0, big)
            }
            for (i, r) in recs.enumerated() {
                // Another block between packets: skipped and counted.
                if i % 5 == 1 { block(4) { u16(0, big); u16(0, big) } }
                let units = big ? r.ts / 1000 : r.ts
                block(6) {
                    u32(0, big); u32(UInt32(units >> 32), big); u32(UInt32(units & 0xffff_ffff), big)
                    u32(UInt32(r.frame.count), big); u32(UInt32(r.frame.count), big)
                    out += r.frame
                }
            }
        }
        return out
    }

    static func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("replay-\(name)-\(getpid())-\(UUID().uuidString).pcap").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every worker's packets, taken with fills of random sizes in a random
    /// order of workers (`drainFirst`: worker 0 takes all of its packets
    /// before the others start, so it runs ahead of the shared chunks).
    static func drain(_ streams: [CaptureStream], seed: UInt64, drainFirst: Bool = false) -> [[Packet]] {
        var streams = streams
        var rng = Rng(s: seed)
        var got = [[Packet]](repeating: [], count: streams.count)
        var done = [Bool](repeating: false, count: streams.count)
        let buf = UnsafeMutableBufferPointer<Packet>.allocate(capacity: 700)
        defer { buf.deallocate() }
        func take(_ w: Int) {
            let n = streams[w].fill(UnsafeMutableBufferPointer(rebasing: buf[0..<1 + rng.below(buf.count)]))
            if n == 0 { done[w] = true }
            got[w] += buf[0..<n]
        }
        if drainFirst { while !done[0] { take(0) } }
        while done.contains(false) {
            let w = rng.below(streams.count)
            if !done[w] { take(w) }
        }
        return got
    }

    /// Worker `k`'s packets of `whole`, timestamps less `t0`.
    static func shard(_ whole: [Packet], _ k: Int, of n: Int, _ t0: Int64) -> [Packet] {
        whole.filter { PcapReader.shard($0, n) == k }.map { var q = $0; q.timestamp -= t0; return q }
    }

    @Test(.oneThread, arguments: Format.allCases, [false, true])
    func everyWorkerGetsItsPacketsInTimestampOrder(_ format: Format, _ shuffled: Bool) throws {
        let path = try Self.write(Self.file(Self.packets(shuffled: shuffled), format), "\(format)-\(shuffled)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var refStats = PcapStats()
        let whole = try PcapReader.read(path: path, stats: &refStats)
        let capture = try Capture(path: path)
        #expect(whole.count == 3000 && capture.stats.used == whole.count)
        #expect(capture.stats.records == refStats.records && capture.stats.skippedBlocks == refStats.skippedBlocks)
        #expect((capture.stats.outOfOrder > 0) == shuffled && (capture.index != nil) == shuffled)
        #expect(whole.map(\.timestamp) == whole.map(\.timestamp).sorted())
        let t0 = whole[0].timestamp
        #expect(capture.firstTimestamp == t0)
        for n in 1...3 {
            // Default chunks (all of the file in one), and small chunks with
            // a ring of 2 to 3: partial fills, retired chunks, and a worker
            // decoding ahead on its own.
            let shapes: [(perChunk: Int, soft: Int, hard: Int)] = [(CaptureReplay.defaultPerChunk, 4, 8), (97, 2, 3), (1, 2, 2)]
            for shape in shapes {
                for drainFirst in [false, true] {
                    let replay = CaptureReplay(capture, workers: n, rebase: t0, perChunk: shape.perChunk, soft: shape.soft, hard: shape.hard)
                    let streams = (0..<n).map { CaptureStream(replay: replay, worker: $0) }
                    let got = Self.drain(streams, seed: UInt64(7 + n), drainFirst: drainFirst)
                    for k in 0..<n {
                        #expect(got[k] == Self.shard(whole, k, of: n, t0), "\(format) shuffled \(shuffled): worker \(k) of \(n), chunks \(shape)")
                    }
                    #expect(got.reduce(0) { $0 + $1.count } == whole.count)
                    #expect(replay.failure == nil)
                    let c = replay.counts
                    #expect(c.peakChunks <= shape.hard)
                    // Decoded once unless a worker went ahead on its own.
                    if n == 1 || shape.perChunk == CaptureReplay.defaultPerChunk { #expect(c.own == 0) }
                    if n > 1 && drainFirst && shape.perChunk == 97 { #expect(c.own > 0) }
                }
            }
        }
        // The public way: one replay for the run's streams.
        let streams = capture.streams(workers: 2, rebase: t0)
        let got = Self.drain(streams, seed: 3)
        #expect(got[0] == Self.shard(whole, 0, of: 2, t0) && got[1] == Self.shard(whole, 1, of: 2, t0))
    }

    /// The formats hold the same packets: µs files their timestamps cut to
    /// whole µs.
    @Test(.oneThread) func formatsDecodeToTheSamePackets() throws {
        let ps = Self.packets(shuffled: false)
        var byFormat: [Format: [Packet]] = [:]
        for f in Format.allCases {
            let path = try Self.write(Self.file(ps, f), "same-\(f)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            byFormat[f] = try PcapReader.read(path: path)
        }
        let us = byFormat[.nsLittle]!.map { var q = $0; q.timestamp -= q.timestamp % 1000; return q }
        #expect(byFormat[.nsBig]! == byFormat[.nsLittle]! && byFormat[.ngLittleNs]! == byFormat[.nsLittle]!)
        #expect(byFormat[.usLittle]! == us && byFormat[.usBig]! == us && byFormat[.ngBigUs]! == us)
    }

    /// Runs through the drivers lose no packet: 1, 2 and 3 workers on the
    /// shared replay process every packet of the capture once.
    @Test(arguments: [1, 2, 3])
    func runsProcessEveryPacketOnce(_ threads: Int) throws {
        let path = try Self.write(Self.file(Self.packets(count: 6000, shuffled: threads == 2), .nsLittle), "run-\(threads)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let capture = try Capture(path: path)
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: .fixed)
        c.threads = threads
        c.chunk = 1024
        c.scenario.packets = capture.stats.used
        let r = try Runner.run(c, capture: capture)
        #expect(r.packets == UInt64(capture.stats.used))
        #expect(!r.warnings.contains { $0.contains("capture") })
    }

    /// A file cut inside its last record: refused with the offset of that
    /// record, or, allowed, replayed up to it with a warning naming it.
    @Test(.oneThread, arguments: [Format.nsLittle, .usBig, .ngLittleNs, .ngBigUs], [3, 12, 40])
    func aFileCutShortIsRefusedOrReplayedToItsLastWholeRecord(_ format: Format, _ cutBytes: Int) throws {
        let ps = Self.packets(count: 500, shuffled: true)
        let full = Self.file(ps, format)
        let allButLast = Self.file(Array(ps.dropLast()), format)
        // The last record starts where the file without it ends (no other
        // block comes before record 499 in these files).
        let lastRecord = allButLast.count
        let cut = Array(full.dropLast(cutBytes))
        #expect(cut.count > lastRecord)
        let path = try Self.write(cut, "cut-\(format)-\(cutBytes)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Capture(path: path)
            Issue.record("accepted a truncated capture")
        } catch {
            #expect(error.cut && error.offset == lastRecord)
            #expect(error.description.hasSuffix("at byte offset \(lastRecord)") && !error.description.contains("\n"))
        }
        let capture = try Capture(path: path, allowTruncated: true)
        let warning = try #require(capture.truncationWarning)
        #expect(warning.contains("byte offset \(lastRecord)") && !warning.contains("\n"))
        #expect(capture.stats.records == ps.count - 1)
        let refPath = try Self.write(allButLast, "whole-\(format)-\(cutBytes)")
        defer { try? FileManager.default.removeItem(atPath: refPath) }
        let whole = try PcapReader.read(path: refPath)
        let t0 = whole[0].timestamp
        for n in [1, 2] {
            let got = Self.drain(capture.streams(workers: n, rebase: t0), seed: 11)
            for k in 0..<n { #expect(got[k] == Self.shard(whole, k, of: n, t0)) }
        }
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: .fixed)
        c.deterministic = true
        c.threads = 1
        c.scenario.packets = capture.stats.used
        let r = try Runner.run(c, capture: capture)
        #expect(r.packets == UInt64(whole.count))
        #expect(r.warnings.contains { $0.hasPrefix("capture cut short:") && $0.contains("byte offset \(lastRecord)") })
    }

    /// What is not a cut stays an error with --allow-truncated: a record
    /// length out of range, a global header cut short.
    @Test(.oneThread) func corruptionIsNotACut() throws {
        var bad = Self.file(Self.packets(count: 50, shuffled: false), .nsLittle)
        bad[24 + 8] = 0xff; bad[24 + 9] = 0xff; bad[24 + 10] = 0xff
        let path = try Self.write(bad, "corrupt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: PcapError.self) { try Capture(path: path, allowTruncated: true) }
        let headerPath = try Self.write(Array(bad[0..<20]), "header")
        defer { try? FileManager.default.removeItem(atPath: headerPath) }
        #expect(throws: PcapError.self) { try Capture(path: headerPath, allowTruncated: true) }
    }

    /// A file cut after it was checked: the replay ends where the file now
    /// ends, with a warning, every worker's packets a prefix of its own.
    @Test(arguments: [false, true])
    func aFileCutDuringTheReplayEndsItWithAWarning(_ shuffled: Bool) throws {
        let bytes = Self.file(Self.packets(count: 4000, shuffled: shuffled), .nsLittle)
        let path = try Self.write(bytes, "shrink-\(shuffled)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try PcapReader.read(path: path)
        let t0 = whole[0].timestamp
        for n in [1, 2, 3] {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let capture = try Capture(path: path)
            let replay = CaptureReplay(capture, workers: n, rebase: t0, perChunk: 256, soft: 2, hard: 3)
            let streams = (0..<n).map { CaptureStream(replay: replay, worker: $0) }
            // Cut it to a third, in the middle of a record.
            let fd = open(path, O_WRONLY)
            #expect(fd >= 0)
            #expect(ftruncate(fd, off_t(bytes.count / 3 + 5)) == 0)
            #expect(close(fd) == 0)
            let got = Self.drain(streams, seed: 5)
            let f = try #require(replay.failure)
            #expect(f.description.contains("changed after it was checked") && f.description.contains("byte offset"))
            #expect(got.reduce(0) { $0 + $1.count } < whole.count)
            for k in 0..<n {
                let want = Self.shard(whole, k, of: n, t0)
                #expect(Array(want.prefix(got[k].count)) == got[k], "worker \(k) of \(n)")
            }
        }
        // Through a run: the report says the replay ended early.
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let capture = try Capture(path: path)
        #expect(truncate(path, off_t(bytes.count / 2)) == 0)
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: .fixed)
        c.threads = 2
        c.chunk = 1024
        c.scenario.packets = capture.stats.used
        let r = try Runner.run(c, capture: capture)
        #expect(r.packets < UInt64(whole.count))
        #expect(r.warnings.contains { $0.hasPrefix("capture replay ended early:") && $0.contains("byte offset") })
    }
}
