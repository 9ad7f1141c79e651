import Testing
@testable import ConnTrack
@testable import FlowGen
@testable import Harness
import Sync
import TestSupport

/// Operations scheduled in a run (`--op`): they run on their thread while
/// two workers and the reaper do, leave the table sound, and report what
/// they did and what the packets saw.
@Suite struct OperationRunTests {
    static let designs = TableDesigns.names

    @Test(arguments: designs)
    func dumpsAndStatsRunWhilePacketsFlow(_ design: String) throws {
        var c = RunConfig()
        c.design = design
        let traits = try #require(TableDesigns.named(design)).traits
        c.table = TableConfig(buckets: 512, hashSeed: traits.hasHashSeed ? 42 : nil)
        switch traits.defaultPolicy {
        case "linux2022": c.policy = .linux2022(Linux2022ReaperPolicy())
        case "ovs": c.policy = .ovs(OVSReaperPolicy())
        default: c.policy = .seed(SeedReaperPolicy())
        }
        c.scenario.scenario = .mix
        c.scenario.flows = 2000
        // Under ThreadSanitizer fewer packets over the same virtual time
        // (46 s for the six designs there).
        c.scenario.packets = builtWithThreadSanitizer ? 30_000 : 60_000
        c.scenario.duration = 600 * Duration_ns.second
        c.threads = 2
        c.chunk = 8192
        c.reaperStartDelay = 0
        c.checkLockOrder = true
        c.operations = [try OperationSpec.parse("dump@every:100"), try OperationSpec.parse("stats@300"),
                        try OperationSpec.parse("dump@5000")]
        try c.validate()
        let r = try Runner.run(c)
        let ops = try #require(r.operations)
        let dumps = ops.operations.filter { $0.kind == "dump" }
        #expect(dumps.count >= 1)
        for d in dumps {
            let counts = try #require(d.counts)
            #expect(counts.visited >= counts.listed)
            #expect(d.durationMillis >= 0 && d.bytes != nil)
            if traits.tracksConnections { #expect(counts.listed > 0, "\(d)") }
        }
        let stats = ops.operations.filter { $0.kind == "stats" }
        #expect(stats.count + ops.notRun.filter { $0.hasPrefix("stats@") }.count == 1, "\(ops.operations.map(\.spec)) not run \(ops.notRun)")
        for s in stats { #expect(s.stats?["found"] != nil) }
        // Due after the last packet's time: reported as not run.
        #expect(ops.notRun.contains { $0.hasPrefix("dump@5000") })
        #expect(r.invariants.ok, "\(r.invariants)")
        #expect(r.lockOrderViolations.isEmpty)
    }

    @Test(.oneThread, arguments: ["dump", "dump@", "dump@-1", "dump@every:0", "resize:0@10", "resize@10", "resize:x@1", "resize:268435457@1", "dump:5@1", "dump@every:x", "@10", "delete@10", "delete:@10",
                                     "delete:x=1@10", "delete:src=10.0.0.0/33@1", "delete:dport=5-3@1", "delete:src=nope@1",
                                     "delete:sport=1,sport=2@1", "flush:src=10.0.0.0/8@1"])
    func aBadOperationIsRefused(_ text: String) {
        #expect(throws: ConfigError.self) { try OperationSpec.parse(text) }
    }

    @Test(.oneThread) func operationsParse() throws {
        #expect(try OperationSpec.parse("dump@12.5") == OperationSpec(kind: .dump, at: 12.5))
        #expect(try OperationSpec.parse("stats@every:10") == OperationSpec(kind: .stats, at: 10, every: 10))
        let r = try OperationSpec.parse("resize:65536@every:30")
        #expect(r == OperationSpec(kind: .resize, size: 65_536, at: 30, every: 30) && r.description == "resize:65536@every:30.000")
        let d = try OperationSpec.parse("delete:src=10.1.0.0/16,dport=80-90@7")
        #expect(d.kind == .delete && d.at == 7 && d.description == "delete:src=10.1.0.0/16,dport=80-90@7.000")
        func id(_ src: String, _ dport: UInt16) -> TupleID {
            TupleID(srcAddr: OperationSpec.prefix(src)!.address, srcPort: 1, dstAddr: IPAddress(v4: 1), dstPort: dport,
                    transProto: .tcp, netProto: .ipv4)
        }
        #expect(d.filter.matches(id("10.1.200.3", 85)))
        #expect(!d.filter.matches(id("10.2.0.1", 85)))
        #expect(!d.filter.matches(id("10.1.0.1", 91)))
        let v6 = try OperationSpec.parse("delete:src=2001:db8::/32@1")
        let a = OperationSpec.prefix("2001:db8:ffff::1")!.address, b = OperationSpec.prefix("2001:db9::1")!.address
        #expect(v6.filter.matches(TupleID(srcAddr: a, srcPort: 1, dstAddr: a, dstPort: 1, transProto: .udp, netProto: .ipv6)))
        #expect(!v6.filter.matches(TupleID(srcAddr: b, srcPort: 1, dstAddr: b, dstPort: 1, transProto: .udp, netProto: .ipv6)))
        // An IPv6 prefix does not match an IPv4 address.
        #expect(!v6.filter.matches(id("32.1.13.184", 1)))
    }

    /// Flushes and deletes in a run: the removals are counted as the
    /// operations' own, the live count agrees, the table is sound.
    @Test(.racedElsewhere("the removal walks are raced by OperationTests (two workers against them, every design); the operation thread by dumpsAndStatsRunWhilePacketsFlow"),
          arguments: designs)
    func flushesAndDeletesRunWhilePacketsFlow(_ design: String) throws {
        var c = RunConfig()
        c.design = design
        let traits = try #require(TableDesigns.named(design)).traits
        c.table = TableConfig(buckets: 512, hashSeed: traits.hasHashSeed ? 42 : nil)
        switch traits.defaultPolicy {
        case "linux2022": c.policy = .linux2022(Linux2022ReaperPolicy())
        case "ovs": c.policy = .ovs(OVSReaperPolicy())
        default: c.policy = .seed(SeedReaperPolicy())
        }
        c.scenario.scenario = .mix
        c.scenario.flows = 2000
        c.scenario.packets = 200_000
        c.scenario.duration = 600 * Duration_ns.second
        c.threads = 2
        c.chunk = 8192
        c.reaperStartDelay = 0
        c.checkLockOrder = true
        c.sampleSeconds = 0.5
        c.operations = [try OperationSpec.parse("flush@100"), try OperationSpec.parse("delete:src=10.0.0.0/9@every:150")]
        try c.validate()
        let r = try Runner.run(c)
        let ops = try #require(r.operations)
        let removed = ops.operations.compactMap { $0.counts?.removed }.reduce(0, +)
        #expect(r.removedByOperation == UInt64(removed))
        if traits.tracksConnections { #expect(removed > 0, "\(ops.operations.map(\.spec))") }
        #expect(r.live == Int64(r.created) - Int64(r.removedInline + r.removedByReaper + r.removedOther + UInt64(removed)))
        // The sampler's last point is taken at the end state: its live
        // estimate counts the operations' removals too (it did not).
        #expect(r.timeSeries.last?.live == r.live, "\(r.timeSeries.last.map(\.live) ?? -1) live in the last sample, \(r.live) in the report")
        #expect(r.invariants.ok, "\(r.invariants)")
        #expect(r.lockOrderViolations.isEmpty)
    }

    /// A save while the workers run (`--op save`) holds each tuple once and
    /// restores into a table whose invariants hold.
    @Test(.racedElsewhere("a save is a dump's walk, raced by OperationTests; the operation thread by dumpsAndStatsRunWhilePacketsFlow"),
          arguments: designs.filter { TableDesigns.named($0)?.traits.tracksConnections == true })
    func aSaveWhileRunningRestores(_ design: String) throws {
        var c = RunConfig()
        c.design = design
        let traits = try #require(TableDesigns.named(design)).traits
        // Room above the flows: a save while running can hold connections
        // removed during its walk, more than were live at any instant.
        c.table = TableConfig(buckets: 4096, hashSeed: traits.hasHashSeed ? 42 : nil)
        switch traits.defaultPolicy {
        case "linux2022": c.policy = .linux2022(Linux2022ReaperPolicy())
        case "ovs": c.policy = .ovs(OVSReaperPolicy())
        default: c.policy = .seed(SeedReaperPolicy())
        }
        c.scenario.scenario = .nat
        c.scenario.flows = 2000
        c.scenario.packets = 100_000
        c.scenario.duration = 600 * Duration_ns.second
        c.threads = 2
        c.chunk = 8192
        c.reaperStartDelay = 0
        c.checkLockOrder = true
        c.operations = [try OperationSpec.parse("save@100")]
        let box = SavedBox()
        c.onSnapshot = { s, end in if !end { box.set(s) } }
        try c.validate()
        let r = try Runner.run(c)
        #expect(r.invariants.ok, "\(r.invariants)")
        let s = try #require(box.get(), "no save at 100 s: \(r.operations?.notRun ?? [])")
        #expect(s.header.savedAt >= 100 * Duration_ns.second && !s.records.isEmpty)
        var tuples = Set<TupleID>()
        for rec in s.records {
            #expect(tuples.insert(rec.original).inserted)
            if rec.reply != rec.original { #expect(tuples.insert(rec.reply).inserted) }
        }
        var again = c
        again.operations = []
        again.onSnapshot = nil
        again.restore = s
        // The saved table's size is the design's own (ovs: its limit).
        again.rehash = true
        let r2 = try Runner.run(again)
        #expect(r2.restoredConnections == s.records.count)
        #expect(r2.invariants.ok, "\(r2.invariants)")
    }
}

/// The snapshot a run hands over while it runs.
final class SavedBox: @unchecked Sendable {
    private let lock = HeapMutex()
    private var value: TableSnapshot?
    func set(_ s: TableSnapshot) { lock.withLock { value = s } }
    func get() -> TableSnapshot? { lock.withLock { value } }
}
