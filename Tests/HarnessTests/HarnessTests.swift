import Foundation
import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import Sync
import TestSupport

@Suite struct HarnessTests {
    func small(_ scenario: ScenarioKind, variant: Variant = .fixed, threads: Int = 2, deterministic: Bool = false,
               shared: Bool = false, faults: Set<Fault> = []) -> RunConfig {
        var c = RunConfig()
        c.table = TableConfig(buckets: 512, hashSeed: 42, variant: variant, faults: faults)
        c.scenario.scenario = scenario
        c.scenario.flows = 2000
        c.scenario.packets = 60_000
        c.scenario.duration = 900 * Duration_ns.second
        c.scenario.shared = shared
        c.threads = threads
        c.deterministic = deterministic
        c.chunk = 8192
        c.checkLockOrder = true
        return c
    }

    func consistent(_ r: RunReport) {
        #expect(r.found + r.notFound == r.lookups)
        #expect(r.lookups == r.packets)
        #expect(r.live == Int64(r.created) - Int64(r.removedInline + r.removedByReaper + r.removedOther))
        #expect(r.tuplesAtEnd == 2 * Int(r.live))
        #expect(r.invariants.ok, "\(r.invariants)")
        #expect(r.outcome == .ok)
        #expect(r.lockOrderViolations.isEmpty)
    }

    @Test(arguments: ScenarioKind.allCases)
    func countersAgreeOnSmallRuns(_ s: ScenarioKind) throws {
        var c = small(s)
        // Under ThreadSanitizer, fewer (43 s for the seven there).
        if builtWithThreadSanitizer { c.scenario.packets = 25_000 }
        let r = try Runner.run(c)
        #expect(r.packets == c.scenario.packets)
        consistent(r)
    }

    @Test(arguments: Variant.allCases)
    func sharedFlowsWithTheReaperStayConsistent(_ v: Variant) throws {
        var c = small(.mix, variant: v, shared: true)
        c.reaperStartDelay = 0
        let r = try Runner.run(c)
        consistent(r)
        #expect(r.reaperPasses > 0)
    }

    /// Each fault meant for the invariant check trips it; the clean run does not.
    @Test(.oneThread, arguments: [(Fault?.none, true), (.walkAfterRemove, false), (.recomputeNatPartner, false)])
    func invariantCheckCatchesTheWalkAndNatFaults(_ fault: Fault?, _ clean: Bool) throws {
        var c = small(.nat, threads: 1, deterministic: true, faults: fault.map { [$0] } ?? [])
        c.scenario.natFraction = 1
        c.reaperStartDelay = 0
        let r = try Runner.run(c)
        #expect(r.invariants.ok == clean, "\(r.invariants)")
        #expect(r.outcome == (clean ? .ok : .invariantViolation))
        #expect(r.outcome.exitCode == (clean ? 0 : ExitCode.invariantViolation))
    }

    @Test func watchdogNamesTheLockEveryoneWaitsFor() throws {
        final class Box: @unchecked Sendable {
            let m = HeapMutex()
            var release: (@Sendable () -> Void)?
            var report: String?
        }
        let box = Box()
        var c = small(.churn, threads: 2)
        c.table.buckets = 1
        c.scenario.flows = 50
        c.scenario.packets = 5_000
        c.watchdogSeconds = 0.3
        c.reaperEnabled = false
        c.onTableCreated = { t in
            let r = (t as! BucketTable)._holdBucketLockForTesting(0)
            box.m.withLock { box.release = r }
        }
        c.onStall = { report in
            box.m.withLock {
                box.report = report
                box.release?()
                box.release = nil
            }
        }
        let r = try Runner.run(c)
        let report = try #require(box.m.withLock { box.report })
        #expect(report.contains("worker-0") && report.contains("waits for bucket[0]"), "\(report)")
        #expect(r.packets == 5_000)
    }

    /// The report with wall-clock fields blanked.
    func deterministicJSON(_ r: RunReport) throws -> String {
        var r = r
        // The date and command line of the run.
        r.provenance = nil
        r.tableSeconds = 0; r.generationSeconds = 0; r.wallSeconds = 0; r.packetsPerSecond = 0
        r.generationOverlappedSeconds = nil
        r.perWorkerPacketsPerSecond = []
        r.latencyNanos = Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0)
        r.reaperPauseMicros = Distribution(count: 0, p50: 0, p99: 0, max: 0, mean: 0)
        r.bucketLocks.waitMillis = 0; r.connectionLocks.waitMillis = 0; r.tableLock.waitMillis = 0
        r.reaperBusySeconds = 0
        r.reaperHealth?.cpuSeconds = 0
        // CPU accounting is wall-clock, and the warnings come from it.
        r.cpu = CPUReport(workers: [], reaperCPUSeconds: 0, processCPUSeconds: 0, phaseWallSeconds: 0, cpusUtilized: 0,
                          voluntaryContextSwitches: 0, involuntaryContextSwitches: 0, starved: false, starvedBelow: 0)
        r.warnings = []
        // Process-wide heap figures depend on whatever else the process does.
        r.memory = MemoryReport(allocator: "", allocatedBytes: 0, activeBytes: 0, residentBytes: 0, fragmentation: 0,
                                peakRSSBytes: 0, tableHeapBytes: 0, bytesPerConnection: nil)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(r), as: UTF8.self)
    }

    @Test(.oneThread, arguments: Variant.allCases)
    func deterministicModeIsByteIdenticalAcrossRuns(_ v: Variant) throws {
        let c = small(.mix, variant: v, threads: 1, deterministic: true)
        let a = try Runner.run(c), b = try Runner.run(c)
        #expect(try deterministicJSON(a) == deterministicJSON(b))
        #expect(a.reaperPasses > 100)
        consistent(a)
        // And the inputs matter.
        var d = c
        d.scenario.seed = 2
        #expect(try deterministicJSON(Runner.run(d)) != deterministicJSON(a))
    }

    /// A deterministic run's live peak is the true one: the same as the
    /// table's own peak (kept exactly when the table has a limit), though
    /// the counters are read only at chunk boundaries.
    @Test(.oneThread, arguments: [ScenarioKind.churn, .mix])
    func deterministicLivePeakIsTheTablesExactPeak(_ s: ScenarioKind) throws {
        var c = small(s, threads: 1, deterministic: true)
        c.chunk = 50_000
        c.reaperStartDelay = 0
        let sampled = try Runner.run(c)
        c.table.maxConnections = 10_000_000
        let counted = try Runner.run(c)
        #expect(sampled.livePeak == counted.livePeak)
        #expect(sampled.livePeak > sampled.live)
    }

    /// A day without packets in the middle of a capture: the report is the
    /// same whether the idle passes are walked or computed, and the long
    /// gap is crossed mostly by computed ones.
    @Test(.oneThread, arguments: Variant.allCases)
    func idlePassesAreComputedWithTheCountersOfTheWalk(_ v: Variant) throws {
        var o = ScenarioOptions()
        o.flows = 500; o.packets = 12_000; o.scenario = .mix; o.duration = 120 * Duration_ns.second
        var g = FlowGenerator(o)
        var packets: [Packet] = []
        while var p = g.next() {
            if packets.count >= 6_000 { p.timestamp += Duration_ns.day }
            packets.append(p)
        }
        var reports: [RunReport] = []
        for ff in [true, false] {
            var c = small(.mix, variant: v, threads: 1, deterministic: true)
            c.reaperFastForward = ff
            reports.append(try Runner.run(c, packets: [packets]))
        }
        let computed = reports[0].reaperHealth?.passesComputed ?? 0
        #expect(computed > reports[0].reaperPasses / 2)
        #expect(reports[1].reaperHealth?.passesComputed == 0)
        reports[0].reaperHealth?.passesComputed = 0
        reports[0].reaperHealth?.summariesBuilt = 0
        reports[1].reaperHealth?.summariesBuilt = 0
        #expect(try deterministicJSON(reports[0]) == deterministicJSON(reports[1]))
        consistent(reports[0])
    }

    /// Packets far apart (a gap of hundreds of passes after each one, as
    /// `--duration 1e9` makes): the summary kept from gap to gap, updated
    /// with each packet, gives the report of walking every pass, also for
    /// the schedule that reads the time left on every entry (linux2022).
    /// The NAT scenario's replies come from the redirect target, so their
    /// connection's other tuple sits in a third bucket. With timeouts under
    /// a minute and gaps of 30 s, linux2022's interval is the average time
    /// left (not its 60 s cap), so every expiry in the summary counts.
    @Test(.oneThread, arguments: Variant.allCases, [(ScenarioKind.mix, false), (.mix, true), (.nat, true)])
    func aSummaryKeptFromGapToGapGivesTheCountersOfTheWalk(_ v: Variant, _ s: (ScenarioKind, Bool)) throws {
        var reports: [RunReport] = []
        for ff in [true, false] {
            var c = small(s.0, variant: v, threads: 1, deterministic: true)
            c.scenario.flows = 60
            c.scenario.packets = 300
            c.scenario.duration = 300 * 400 * Duration_ns.second
            if s.0 == .nat { c.scenario.natFraction = 1 }
            if s.1 {
                c.policy = .linux2022(Linux2022ReaperPolicy(bucketsPerPass: 1))
                c.table.timeouts.established = 50 * Duration_ns.second
                c.table.timeouts.other = 40 * Duration_ns.second
                c.table.timeouts.udpStream = 45 * Duration_ns.second
                c.scenario.duration = 300 * 30 * Duration_ns.second
            }
            c.reaperFastForward = ff
            reports.append(try Runner.run(c))
        }
        let h = try #require(reports[0].reaperHealth)
        #expect((h.passesComputed ?? 0) > reports[0].reaperPasses * 9 / 10)
        // Built once and then kept, except where a packet's bucket held an
        // expired connection.
        #expect((h.summariesBuilt ?? 0) < 100)
        reports[0].reaperHealth?.passesComputed = 0
        reports[0].reaperHealth?.summariesBuilt = 0
        reports[1].reaperHealth?.summariesBuilt = 0
        #expect(try deterministicJSON(reports[0]) == deterministicJSON(reports[1]))
        consistent(reports[0])
    }

    /// Lock-step windows leave only the order of different workers'
    /// operations within a window to scheduling: with that order fixed
    /// (the workers take turns in each window, ordered by the barrier), a
    /// 2-worker run with the reaper's passes split across both is the same
    /// run every time, every counter. The spread the report states for
    /// free order is a measurement (`run --repeats`, docs/determinism.md),
    /// not a property a test can hold to without depending on scheduling.
    @Test(.racedElsewhere("the windowed driver's threads are raced by the lock-step, boundary, window-merge and split-pass tests; this one took 45 s under ThreadSanitizer"),
          arguments: Variant.allCases)
    func twoWorkerWindowedRunsAreTheSameRunWhenTheOrderInAWindowIsFixed(_ v: Variant) throws {
        var c = small(.mix, variant: v, threads: 2)
        c.table.buckets = 4096   // a normal load (a few tuples per bucket)
        c.scenario.packets = 200_000
        c.scenario.flows = 4000
        c.chunk = 1 << 16
        c.checkLockOrder = false
        c.workersTakeTurns = true
        let runs = try (0..<3).map { _ in try Runner.run(c) }
        let d = runs[0].determinism
        #expect(d.mode == "windowed" && d.windows ?? 0 > 1000)
        let first = try deterministicJSON(runs[0])
        for r in runs.dropFirst() { #expect(try deterministicJSON(r) == first) }
        for r in runs { #expect(r.reaperHealth?.flagged == false && r.outcome == .ok) }
        #expect(runs[0].reaperPasses > 100 && runs[0].removedByReaper > 0)
    }

    /// Without windows the same runs carry no bound, and say so.
    @Test func freeRunningVirtualRunsStateThatTheyHaveNoBound() throws {
        var c = small(.mix, threads: 2)
        c.windowNanos = 0
        let r = try Runner.run(c)
        #expect(r.determinism.mode == "free-running" && r.determinism.connectionCounterBound == nil)
    }

    /// `teardowns` replays `setups`'s flows with the same seed, flows and
    /// stream: packet for packet the same tuple, an RST one past the SYN's
    /// sequence number; every SYN of `setups` opens a flow of its own.
    @Test(.oneThread, arguments: [(0, 1), (1, 2)])
    func teardownsCloseWhatSetupsOpened(_ stream: Int, of streams: Int) throws {
        var o = ScenarioOptions()
        o.flows = 300; o.packets = 6000; o.seed = 7; o.ipv6Ratio = 0.2
        o.scenario = .setups
        var up = FlowGenerator(o, stream: stream, streams: streams)
        o.scenario = .teardowns
        var down = FlowGenerator(o, stream: stream, streams: streams)
        var tuples = Set<TupleID>()
        var n = 0
        while let s = up.next() {
            let next = down.next()
            let r = try #require(next)
            #expect(s.id == r.id && s.tcp.flags == .syn && r.tcp.flags == .rst && r.tcp.seq == s.tcp.seq &+ 1)
            tuples.insert(s.id)
            n += 1
        }
        #expect(down.next() == nil && n == 6000 / streams)
        // Distinct flows, but for the rare chance draw of one tuple twice.
        #expect(tuples.count >= n - 2, "\(n - tuples.count) tuples repeated")
    }

    @Test(.oneThread) func generatorIsDeterministicAndReachesEveryTrackerState() throws {
        var o = ScenarioOptions()
        o.flows = 500; o.packets = 50_000; o.scenario = .mix
        var g1 = FlowGenerator(o), g2 = FlowGenerator(o)
        var n = 0
        while let p = g1.next() { #expect(p == g2.next()); n += 1 }
        #expect(n == 50_000)
        var c = RunConfig()
        c.table = TableConfig(buckets: 1024, hashSeed: 1, variant: .fixed)
        c.scenario = o
        c.threads = 1; c.deterministic = true
        let r = try Runner.run(c)
        // fixed: the creating SYN initialises (Connecting), the rest follow.
        #expect(r.trackerInit > 0)
        for s in ["alive", "reset", "closedBySelf", "closedByPeer"] { #expect((r.trackerResults[s] ?? 0) > 0, "\(s)") }
    }

    /// Generation overlapped on a producer thread hands the worker the same
    /// packets in the same order: a deterministic report is the same, in
    /// partial fills as in whole ones.
    @Test(arguments: ["fast", "buckets"])
    func overlappedGenerationChangesNothingButWhoGenerates(_ design: String) throws {
        var reports: [RunReport] = []
        for overlap in [false, true] {
            var c = RunConfig()
            c.design = design
            c.table = TableConfig(buckets: 1024, hashSeed: 3)
            // Several of the producer's buffers (65,536 packets); under
            // ThreadSanitizer fewer of them (58 s for both designs there).
            c.scenario.flows = 2000; c.scenario.packets = builtWithThreadSanitizer ? 150_000 : 300_000; c.scenario.scenario = .mix
            c.threads = 1; c.deterministic = true
            // Smaller than the producer's buffers, and not a multiple.
            c.chunk = 50_000
            c.overlapGeneration = overlap
            reports.append(try Runner.run(c))
        }
        let d = ReportDiff(baseline: .init(runs: [reports[0]], name: "own"),
                           candidate: .init(runs: [reports[1]], name: "overlapped"), thresholdPercent: 5)
        #expect(d.exactDifferences().isEmpty, "\(d.exactDifferences())")
        #expect(reports[0].generationOverlappedSeconds == nil)
        // Overlap needs a second CPU for the producer.
        if Runner.onlineCPUs() >= 2 { #expect(reports[1].generationOverlappedSeconds != nil) }
    }

    /// A prefetched fill's size depends only on what was asked and what is
    /// left, however far the producer got (where a lane's buffer ends
    /// decides where merged windows stop).
    @Test(arguments: [Prefetcher.bufferPackets + 777, 4 * Prefetcher.bufferPackets])
    func prefetchedFillsDependOnlyOnTheRequest(capacity: Int) {
        let total = 3 * Prefetcher.bufferPackets + 1234
        let id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 40000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        let list = (0..<total).map { Packet(id: id, hook: .output, timestamp: Int64($0)) }
        let pf = Prefetcher(PacketSource(list: list))
        defer { pf.stop() }
        // Larger than the producer's buffers and not a multiple of them,
        // or larger than a whole fill.
        let out = UnsafeMutableBufferPointer<Packet>.allocate(capacity: capacity)
        defer { out.deallocate() }
        var seen = 0
        while true {
            let n = pf.fill(out)
            if n == 0 { break }
            #expect(n == min(out.count, Prefetcher.fillLimit, total - seen), "a fill of \(n) after \(seen) packets")
            for k in 0..<n where out[k].timestamp != Int64(seen + k) {
                Issue.record("packet \(seen + k) out of order"); break
            }
            seen += n
        }
        #expect(seen == total)
    }

    @Test(.oneThread) func invalidConfigurationIsRejectedWithTheOptionName() {
        var c = RunConfig()
        c.threads = 0
        #expect(throws: ConfigError.self) { try Runner.run(c) }
        c = RunConfig()
        c.table.buckets = 0
        do { _ = try Runner.run(c); Issue.record("accepted 0 buckets") } catch { #expect(error.description.contains("buckets")) }
    }

    /// Options a design does not support are refused, naming the option
    /// and the design, instead of being silently ignored.
    @Test(.oneThread, arguments: [("global-lock", "--variant"), ("global-lock", "--max-connections"), ("global-lock", "--hash-seed"),
                      ("global-lock", "--inject"), ("null", "--variant"), ("nosuch", "--design")])
    func unsupportedOptionsAreRefused(_ design: String, _ option: String) {
        var c = RunConfig()
        c.design = design
        switch option {
        case "--variant": c.table.variant = .fixed
        case "--max-connections": c.table.maxConnections = 100
        case "--hash-seed": c.table.hashSeed = 1
        case "--inject": c.table.faults = [.skipBucketLock]
        default: break
        }
        do {
            _ = try Runner.run(c)
            Issue.record("\(design) accepted \(option)")
        } catch {
            #expect(error.description.hasPrefix(option), "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test(.oneThread) func pcapRoundTripReproducesThePackets() throws {
        var o = ScenarioOptions()
        o.flows = 200; o.packets = 3000; o.scenario = .mix; o.natFraction = 0
        var g = FlowGenerator(o)
        var w = PcapWriter()
        var sent: [Packet] = []
        while let p = g.next() { sent.append(p); w.append(p) }
        var stats = PcapStats()
        let back = try PcapReader.parse(w.bytes, name: "mem", stats: &stats)
        #expect(back.count == sent.count)
        for (a, b) in zip(sent, back) {
            #expect(a.id == b.id)
            #expect(a.tcp == b.tcp || a.id.transProto == .udp)
            #expect(b.timestamp - w.epochOffset == a.timestamp)
        }
        // Checksums: IPv4 header sums to 0xffff.
        let ip = PcapWriter.ipPacket(sent.first { $0.id.netProto == .ipv4 }!)
        #expect(PcapWriter.checksum(ArraySlice(ip[0..<20])) == 0)
        // Truncation is reported with the offset of the bad record.
        let cut = Array(w.bytes.dropLast(5))
        do {
            _ = try PcapReader.parse(cut, name: "cut", stats: &stats)
            Issue.record("accepted a truncated file")
        } catch {
            #expect(error.description.contains("byte offset"))
        }
    }

    /// A capture cut at its snaplen keeps the segment's real length (from
    /// the IP header), and out-of-order records replay in timestamp order.
    @Test(.oneThread) func captureReadsLengthsFromTheIPHeaderAndOrdersByTimestamp() throws {
        let id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 40000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        var w = PcapWriter()
        w.append(Packet(id: id, tcp: TCPSegment(flags: .ack, seq: 1, ack: 1, payloadLength: 300), hook: .output, timestamp: 2_000))
        w.append(Packet(id: id, tcp: TCPSegment(flags: [.ack, .ece, .cwr], seq: 2, ack: 1), hook: .output, timestamp: 1_000))
        // Cut the first record to its headers: 14 + 20 + 20 bytes captured.
        var b = w.bytes
        let rec = 24, cut = 54, full = Int(b[rec + 8]) | Int(b[rec + 9]) << 8
        b[rec + 8] = UInt8(cut); b[rec + 9] = 0
        b.removeSubrange((rec + 16 + cut)..<(rec + 16 + full))
        var stats = PcapStats()
        let back = try PcapReader.parse(b, name: "cut", stats: &stats)
        #expect(back.count == 2)
        #expect(back.first?.tcp.payloadLength == 0 && back.last?.tcp.payloadLength == 300)
        #expect(back.first?.tcp.flags == [.ack, .ece, .cwr])
        #expect(stats.outOfOrder == 1 && back.map(\.timestamp) == back.map(\.timestamp).sorted())
    }

    /// A capture streamed from its file gives each worker the packets the
    /// whole-file read gives it, in timestamp order, whether the file is in
    /// that order (read in order) or not (read through a sorted index), and
    /// a deterministic run of it the same report.
    @Test(.oneThread, arguments: [false, true])
    func streamedCapturesReplayLikeTheWholeFile(_ shuffled: Bool) throws {
        var o = ScenarioOptions()
        o.flows = 300; o.packets = 5000; o.scenario = .mix; o.natFraction = 0
        var g = FlowGenerator(o)
        var packets: [Packet] = []
        while let p = g.next() { packets.append(p) }
        if shuffled {
            // Swap neighbours in blocks of 7, and repeat some timestamps
            // (ties keep file order).
            for i in stride(from: 0, to: packets.count - 7, by: 7) {
                packets.swapAt(i, i + 6)
                packets[i + 2].timestamp = packets[i + 1].timestamp
            }
        }
        var w = PcapWriter()
        for p in packets { w.append(p) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(shuffled)-\(getpid()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))
        let whole = try PcapReader.read(path: path)
        let capture = try Capture(path: path)
        #expect(capture.stats.used == whole.count)
        #expect((capture.stats.outOfOrder > 0) == shuffled && (capture.indexBytes > 0) == shuffled)
        let t0 = whole.first!.timestamp
        #expect(capture.firstTimestamp == t0)
        for n in [1, 2] {
            for k in 0..<n {
                var s = capture.stream(worker: k, of: n, rebase: t0)
                var got: [Packet] = []
                while let p = s.next() { got.append(p) }
                let want = whole.filter { PcapReader.shard($0, n) == k }.map { var q = $0; q.timestamp -= t0; return q }
                #expect(got == want, "worker \(k) of \(n)")
                #expect(s.failure == nil)
            }
        }
        var c = small(.mix, threads: 1, deterministic: true)
        c.scenario.packets = whole.count
        let streamed = try Runner.run(c, capture: capture)
        let listed = try Runner.run(c, packets: [whole.map { var q = $0; q.timestamp -= t0; return q }])
        #expect(try deterministicJSON(streamed) == deterministicJSON(listed))
        #expect(streamed.packets == UInt64(whole.count))
    }

    /// pcapng as Wireshark writes it: a section, an interface (with its
    /// timestamp resolution), an unrelated block that is skipped, and
    /// enhanced packet blocks.
    @Test(.oneThread) func pcapngSectionsInterfacesAndEnhancedPacketsAreRead() throws {
        func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let len = UInt32(12 + padded.count)
            return le32(type) + le32(len) + padded + le32(len)
        }
        let id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 40000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        let frame = [UInt8](repeating: 2, count: 12) + [0x08, 0x00]
            + PcapWriter.ipPacket(Packet(id: id, tcp: TCPSegment(flags: .syn, seq: 7), hook: .output))
        func epb(_ ns: UInt64) -> [UInt8] {
            block(6, le32(0) + le32(UInt32(ns >> 32)) + le32(UInt32(ns & 0xffff_ffff)) + le32(UInt32(frame.count))
                + le32(UInt32(frame.count)) + frame)
        }
        let shb = block(0x0a0d_0d0a, le32(0x1a2b_3c4d) + le16(1) + le16(0) + [UInt8](repeating: 0xff, count: 8))
        let idb = block(1, le16(1) + le16(0) + le32(65535) + le16(9) + le16(1) + [9, 0, 0, 0] + le16(0) + le16(0))
        let nrb = block(4, le16(0) + le16(0))
        let file = shb + idb + nrb + epb(2_000_000_123) + epb(1_000_000_456)
        var stats = PcapStats()
        let back = try PcapReader.parse(file, name: "ng", stats: &stats)
        #expect(back.map(\.timestamp) == [1_000_000_456, 2_000_000_123])
        #expect(back.allSatisfy { $0.id == id && $0.tcp.seq == 7 })
        #expect(stats.skippedBlocks == 1 && stats.used == 2 && stats.outOfOrder == 1)
        // A cut block is refused with its offset.
        do {
            _ = try PcapReader.parse(Array(file.dropLast(6)), name: "cut", stats: &stats)
            Issue.record("accepted a truncated pcapng")
        } catch {
            #expect(error.description.contains("byte offset"))
        }
    }
}
