import Sync

/// The harness's ceiling: does everything the harness asks of a design
/// (takes each packet from the batch, reads its fields, counts it, passes
/// quiescent points) but keeps no table. Its packets/s is the most any
/// design can show under this harness; `compare` prints it beside the real
/// designs so a reader sees how much of each figure is the table.
public final class NullTable: ConnTrackTable, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "null",
            summary: "no table: reads and counts each packet; the harness's own ceiling",
            hasHashSeed: false, slotName: nil, sizedByBuckets: false, variants: [], defaultVariant: nil,
            faults: [], connectionLimit: false, tracksConnections: false, incompleteSweepVariants: [])
        // Its operations do nothing, as its packets do.
        t.resizesWhileRunning = true
        return t
    }()

    /// immutable
    public let config: TableConfig

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
    }

    public var hashSeed: UInt32? { nil }
    public var sweepSlots: Int { 1 }

    /// Reads the packet's tuple and TCP fields into the worker's digest and
    /// reads the clock as a table would; no shared state is touched.
    @inline(__always)
    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        let id = p.id
        var d = id.srcAddr.hi ^ id.srcAddr.lo &* 31 ^ id.dstAddr.hi &* 17 ^ id.dstAddr.lo
        d ^= UInt64(id.srcPort) << 16 | UInt64(id.dstPort) | UInt64(id.transProto.rawValue) << 32
        d ^= UInt64(p.tcp.seq) << 8 ^ UInt64(p.tcp.flags.rawValue) ^ UInt64(bitPattern: clock.now())
        ctx.stats.packetDigest = (ctx.stats.packetDigest &* 0x100_0000_01b3) ^ d
        // No table, no tracker: the packet is untracked (`0`, as OVS
        // prints a packet conntrack never saw).
        if ctx.tracing { ctx.traceVerdict([], p) }
        return .notTracked
    }

    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        runPacketLoop(self, &batch, &ctx)
    }

    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        ReapPassResult(nextStart: start + maxSlots, slotsScanned: min(maxSlots, 1))
    }

    public func makeSweepSummary() -> SweepSummary { SweepSummary(leaves: []) }

    /// Packets change nothing a pass sees: the summary stays valid.
    public func updateSweepSummary(_ summary: inout SweepSummary, after packets: UnsafeBufferPointer<Packet>) {}

    /// Every pass of this design is idle.
    public func idlePass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? {
        reapPass(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, &ctx)
    }

    public func inspect() -> TableInspection {
        TableInspection(slotName: nil, slotLengths: [], stripeName: nil, stripeContention: [], tuples: 0, connections: 0)
    }

    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport { InvariantReport() }
    public func expiredCount(now: Int64) -> Int { 0 }
    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {}

    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        if !records.isEmpty { throw ImportError(record: 0, reason: "design null keeps no connections") }
    }
}
