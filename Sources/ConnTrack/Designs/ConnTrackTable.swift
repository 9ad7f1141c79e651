/// The interface every table design implements. The harness, the reaper,
/// the benchmarks, `compare` and the conformance tests are generic over it
/// and find designs through `TableDesigns`; they specialise for each design
/// (no existential on the packet path).
///
/// It speaks of connections and passes, not of buckets: a design reports
/// its own structure through `inspect()`, keeps its reclamation behind the
/// four worker calls, and exports and imports plain `ConnectionRecord`s.
public protocol ConnTrackTable: AnyObject, Sendable {
    /// What the design supports; the registry and the configuration
    /// check read it before a table exists.
    static var traits: DesignTraits { get }

    /// Preconditions: `config` was validated for this design
    /// (`TableConfig.validate(for:)`).
    init(_ config: TableConfig)
    var config: TableConfig { get }

    /// The hash seed in use (drawn at random when the configuration has
    /// none); nil for a design that does not hash with a seed.
    var hashSeed: UInt32? { get }

    // MARK: Packet path

    /// Processes one packet: lookup, refresh and track, or create.
    func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome

    /// Processes the packets of `batch` from its position to its end (or to
    /// its stop time). Every design implements it as
    /// `runPacketLoop(self, &batch, &ctx)`: the call names the concrete
    /// type, so the loop is specialised for this design and each clock, and
    /// the harness pays one witness call per batch instead of per packet.
    func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext)

    // MARK: Garbage collection

    /// Units a reaper pass budgets over (buckets, slices, stripes). A pass
    /// of `sweepSlots` units from 0 covers the whole table.
    var sweepSlots: Int { get }

    /// One reaper pass over at most `maxSlots` units from `start`, removing
    /// expired connections (at most `maxEvictions`).
    func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                  _ ctx: inout WorkerContext) -> ReapPassResult

    // MARK: Fast-forward of idle passes
    //
    // While no packet arrives, the table changes only where a pass removes
    // something. A pass whose window holds nothing expired changes nothing,
    // and its result follows from per-slot aggregates; so the reaper can
    // skip the walk of such passes, exactly, when it is the only thread
    // using the table (long gaps in virtual time).

    /// The table's aggregates, slot by slot; invalid when the design does
    /// not fast-forward (the default). Preconditions: no other thread
    /// changes the table while the summary is in use.
    func makeSweepSummary() -> SweepSummary

    /// What `reapPass` with these arguments would return, and would add to
    /// `ctx.stats`, computed from `summary`, when nothing in the window has
    /// expired at `now`; nil when a real pass is needed.
    func idlePass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                  _ ctx: inout WorkerContext) -> ReapPassResult?

    /// Keeps `summary` true of the table after one thread processed
    /// `packets` (in order, at their timestamps, no reaper pass among them),
    /// or marks it invalid when the design cannot tell what changed; so a
    /// run with a gap after every packet need not rebuild it each time.
    /// Preconditions: no other thread changed the table meanwhile.
    func updateSweepSummary(_ summary: inout SweepSummary, after packets: UnsafeBufferPointer<Packet>)

    /// `reapPass`, keeping `summary` true of the table: removals update it,
    /// or mark it invalid. Preconditions: as for `makeSweepSummary`.
    func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, updating summary: inout SweepSummary,
                  _ ctx: inout WorkerContext) -> ReapPassResult

    // MARK: Passes split across waiting workers

    /// Whether the design implements `scanForReap`, so that a pass at a
    /// lock-step boundary can be split across the workers waiting there.
    var scansForReap: Bool { get }

    /// Tallies what `reapPass(start:...)` at `now` would find in each slot
    /// `start + k` (modulo `sweepSlots`) for k in `range`, into
    /// `tallies[k - range.lowerBound]`, without a lock and without changing
    /// anything. A pass from `start` over n slots with no eviction cap
    /// reached must count exactly the sums of the tallies of k in 0..<n,
    /// and remove exactly the expired ones less the deferred; walking any
    /// run of those slots, after the runs before it were walked, must count
    /// that run's tallies. Preconditions: `scansForReap`; no thread changes the
    /// table meanwhile (threads may scan disjoint ranges at once).
    func scanForReap(start: Int, range: Range<Int>, now: Int64, into tallies: UnsafeMutableBufferPointer<ReapSlotTally>)

    /// Whether walking disjoint runs of slots at once, from several
    /// threads, counts and removes what walking them one after another
    /// would: true when a removal changes no other slot's tally (`fast`
    /// counts a connection through its first slot only). A split pass
    /// then has every party remove in the chunks it scanned (with
    /// `scanForReap(...expired:)` and `removeScanned`), instead of the
    /// coordinator walking the slots reached alone.
    var walksSlotsIndependently: Bool { get }

    /// `scanForReap` for a table that `walksSlotsIndependently` (and so
    /// defers nothing), which also appends to `expired` a handle for each
    /// connection it tallies as expired, in the order the walk would
    /// remove them; handed to `removeScanned`, a prefix of them is what
    /// walking the slots whose tallies it covers would remove, without
    /// walking them again. Preconditions: as for `scanForReap`.
    func scanForReap(start: Int, range: Range<Int>, now: Int64, into tallies: UnsafeMutableBufferPointer<ReapSlotTally>,
                     expired: inout [UInt32])

    /// Removes the connections `scanForReap(...expired:)` handed back, as
    /// the walk would (`kind` reaper, each checked again under its lock);
    /// returns how many it removed. Preconditions: no thread other than
    /// those removing disjoint handles changed the table since the scan.
    func removeScanned(_ expired: UnsafeBufferPointer<UInt32>, now: Int64, _ ctx: inout WorkerContext) -> Int

    /// Whether a split pass keeps a sweep summary as the walk would: false
    /// when the walk's recount of every slot it walked is what makes the
    /// summary exact again, so passes with a summary are walked whole.
    var splitPassKeepsSummary: Bool { get }

    /// The `nextStart` a pass from `start` that scanned `scanned` (≥ 1)
    /// slots returns.
    func reapNextStart(start: Int, scanned: Int) -> Int

    /// The leaves of `makeSweepSummary()` for the slots in `range`, into
    /// `leaves[k - range.lowerBound]`, so that a team can build the summary
    /// in parts; false when the design builds it whole only (the default).
    /// Preconditions: as for `scanForReap`.
    func summariseSlots(_ range: Range<Int>, into leaves: UnsafeMutableBufferPointer<SweepSummary.Leaf>) -> Bool

    // MARK: Reclamation of removed connections

    /// Registers a thread that handles packets; returns its slot.
    func registerWorker() -> Int
    /// The thread in `slot` holds no connection reference right now.
    func workerQuiescent(_ slot: Int)
    /// The thread in `slot` stops using the table for a while.
    func workerOffline(_ slot: Int)
    /// Frees what no registered thread can still see. The caller must be
    /// at a quiescent point itself.
    func reclaim(_ ctx: inout WorkerContext)

    // MARK: Inspection (not on the packet path)

    /// What a report shows of the table's structure right now.
    func inspect() -> TableInspection
    /// Structural checks; `uniqueIDs` nil means the design's own rule.
    func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport
    /// Connections that have timed out at `now` but are still in the table.
    func expiredCount(now: Int64) -> Int
    /// `expiredCount` over part `part` of `parts` of the table, split by
    /// the design's hash (every `parts`-th bucket from `part`), so that a
    /// part is an unbiased sample of the whole; nil when the design counts
    /// only the whole table (`parts` > 1 there). Preconditions: `part` in
    /// 0..<`parts`.
    func expiredCount(now: Int64, part: Int, of parts: Int) -> Int?

    // MARK: Export and import

    /// Calls `body` once per connection with its state read under its lock.
    /// The order is the design's own: importing the records in this order
    /// into an empty table of the same design and size rebuilds the same
    /// structure. Preconditions: no other thread changes the table.
    func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void)

    /// `conntrack -L` while workers run, with the design's own walk
    /// (TableOperations.swift); nil when the design cannot.
    /// Preconditions: the caller is registered (`registerWorker` gave
    /// `slot`) and holds no lock.
    func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                          _ body: (ConnectionRecord) -> Void) -> OperationCounts?
    /// Removes what `filter` matches while workers run, with the design's
    /// own locking (TableOperations.swift); nil when the design cannot.
    /// Preconditions: as for `dumpWhileRunning`.
    func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                            _ ctx: inout WorkerContext) -> OperationCounts?
    /// Rehashes to `slots` slots while workers run, with the design's own
    /// locking (TableOperations.swift); nil when the design cannot
    /// (`DesignTraits.resizesWhileRunning` is false).
    /// Preconditions: as for `dumpWhileRunning`; `slots` >= 1.
    func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                            _ ctx: inout WorkerContext) -> OperationCounts?

    /// Inserts `records` into this table, which must be empty. Nothing is
    /// inserted when it throws. Preconditions: no other thread uses the table.
    func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError)

    // MARK: Memory

    /// The most resident memory a table of this design reaches over a run
    /// with `connections` connections at once and `threads` workers: its
    /// own structures, the reaper's sweep summary, and what inspection, the
    /// invariant check and import allocate; an upper bound, so that a run
    /// that cannot fit is refused before it starts (the harness adds its
    /// own structures). Defaults: `ConnTrackTable+MemoryEstimate.swift`.
    static func estimatedBytes(_ config: TableConfig, connections: Int, threads: Int) -> Int
}

// Defaults for what a design need not provide: fast-forward of idle passes
// and deferred reclamation. Each stays a requirement of the protocol, so a
// design's own implementation is the one called, also through generic code.
extension ConnTrackTable {
    /// No fast-forward: an invalid summary, so the reaper walks every pass.
    public func makeSweepSummary() -> SweepSummary {
        var s = SweepSummary(leaves: [])
        s.valid = false
        return s
    }

    /// No pass is computed: every one is walked.
    public func idlePass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? { nil }

    /// Packets may change anything, so the summary is rebuilt.
    public func updateSweepSummary(_ summary: inout SweepSummary, after packets: UnsafeBufferPointer<Packet>) {
        if !packets.isEmpty { summary.valid = false }
    }

    /// `reapPass`; a removal invalidates the summary (the reaper builds
    /// another when the gap is still long).
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64, updating summary: inout SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        let r = reapPass(start: start, maxSlots: maxSlots, maxEvictions: maxEvictions, now: now, &ctx)
        if r.removed > 0 { summary.valid = false }
        return r
    }

    /// Passes are not split: the reaper walks each one alone.
    public var scansForReap: Bool { false }
    public func scanForReap(start: Int, range: Range<Int>, now: Int64,
                            into tallies: UnsafeMutableBufferPointer<ReapSlotTally>) {
        preconditionFailure("\(Self.traits.name) does not scan for the reaper")
    }
    public var walksSlotsIndependently: Bool { false }
    public func scanForReap(start: Int, range: Range<Int>, now: Int64,
                            into tallies: UnsafeMutableBufferPointer<ReapSlotTally>, expired: inout [UInt32]) {
        preconditionFailure("\(Self.traits.name) does not walk slots independently")
    }
    public func removeScanned(_ expired: UnsafeBufferPointer<UInt32>, now: Int64, _ ctx: inout WorkerContext) -> Int {
        preconditionFailure("\(Self.traits.name) does not walk slots independently")
    }
    public var splitPassKeepsSummary: Bool { true }
    public func reapNextStart(start: Int, scanned: Int) -> Int { start &+ scanned }
    public func summariseSlots(_ range: Range<Int>, into leaves: UnsafeMutableBufferPointer<SweepSummary.Leaf>) -> Bool {
        false
    }

    // A design that frees nothing while the table is shared (it frees
    // removed connections at once, or keeps none) has nothing to reclaim.
    public func registerWorker() -> Int { 0 }
    public func workerQuiescent(_ slot: Int) {}
    public func workerOffline(_ slot: Int) {}
    public func reclaim(_ ctx: inout WorkerContext) {}
}

extension ConnTrackTable {
    /// Only the whole table is counted.
    public func expiredCount(now: Int64, part: Int, of parts: Int) -> Int? {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        return parts == 1 ? expiredCount(now: now) : nil
    }

    /// The design's registry name.
    public var designName: String { Self.traits.name }

    /// Every connection, exported (tests, dumps).
    public func exportConnections(now: Int64) -> [ConnectionRecord] {
        var out: [ConnectionRecord] = []
        forEachConnection(now: now) { out.append($0) }
        return out
    }
}

/// What the packet path did with one packet.
public enum PacketOutcome: Sendable, Equatable {
    /// Matched a connection; the tracker returned this (nil: it was
    /// initialised by this packet).
    case tracked(TrackerResult?)
    /// Created a connection.
    case created
    /// Not tracked: insert failed or was refused at the limit, or the
    /// design keeps no table.
    case notTracked
}
