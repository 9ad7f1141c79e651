#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync

/// The design the seed replaced: one mutex around a Swift `Dictionary`
/// from tuple to connection. Same packet path, tracker and timeouts as
/// `BucketTable` (with the `fixed` rules), so `compare` isolates the cost of
/// the data structure and its lock.
///
/// Lock order: table mutex (rank: table) < connection < retire list.
public final class GlobalLockTable: ConnTrackTable, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "global-lock",
            summary: "the design the seed replaced: one mutex around a Swift Dictionary (fixed rules, no variants)",
            hasHashSeed: false, slotName: "slice", sizedByBuckets: false, variants: [], defaultVariant: nil,
            faults: [], connectionLimit: false, tracksConnections: true, incompleteSweepVariants: [])
        t.knobs = [.buckets("reaper slices the map is swept in", grid: [1024, 16384, 262144])]
        // The block, plus two map entries (key and pointer) at ~75 % load.
        t.bytesPerConnection = MemoryLayout<ConnNode>.stride
            + 2 * (MemoryLayout<TupleID>.stride + MemoryLayout<UnsafeMutablePointer<TupleNode>>.stride) * 4 / 3
        t.resizesWhileRunning = true
        return t
    }()

    /// immutable
    public let config: TableConfig
    /// Memory of removed connections, freed once no thread can see it.
    let reclaimer = Reclaimer()
    /// immutable
    let timeouts: Timeouts
    /// The table lock.
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// protected by mutex
    var map: [TupleID: UnsafeMutablePointer<TupleNode>] = [:]
    /// protected by mutex: the next connection's `serial` (insertion order,
    /// for export: the map's own order is per-process random)
    var nextSerial: UInt64 = 0
    /// protected by mutex: connections in the map
    var liveCount = 0
    /// protected by mutex: the most connections in the map at once
    var peakCount = 0

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
        timeouts = config.timeouts
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        PThread.initMutex(mutex)
    }

    deinit {
        var conns = Set<UnsafeMutablePointer<ConnNode>>()
        for t in map.values { conns.insert(t.pointee.conn) }
        for c in reclaimer.takeAll() { conns.insert(c) }
        for c in conns { ConnNode.destroy(c) }
        PThread.destroyMutex(mutex)
        mutex.deallocate()
    }

    public var hashSeed: UInt32? { nil }

    /// The number of slices a reaper pass divides the entries into
    /// (`--buckets`; the map itself is sized by Swift).
    public var sweepSlots: Int { config.buckets }

    public func registerWorker() -> Int { reclaimer.register() }
    public func workerQuiescent(_ slot: Int) { reclaimer.quiescent(slot) }
    public func workerOffline(_ slot: Int) { reclaimer.offline(slot) }
    public func reclaim(_ ctx: inout WorkerContext) { reclaimer.collect(&ctx) }

    /// The table lock as a lock of the declared order.
    @inline(__always)
    var tableLock: RankedLock<PThreadMutexRef> { RankedLock(PThreadMutexRef(mutex), rank: .table) }

    @inline(__always)
    func lock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        tableLock.lock(&ctx.locks, counting: &ctx.stats.tableLock, file: file, line: line)
    }

    /// Preconditions: mutex is held (taken by `lock`).
    @inline(__always)
    func unlock(_ ctx: inout WorkerContext) {
        tableLock.unlock(&ctx.locks)
    }

    /// Preconditions: mutex is held.
    func remainingLocked(_ c: UnsafeMutablePointer<ConnNode>, now: Int64, _ ctx: inout WorkerContext) -> Int64 {
        lockConnection(c, &ctx)
        let r = timeRemaining(c, timeouts, now: now)
        unlockConnection(c, &ctx)
        return r
    }

    /// Preconditions: mutex is held.
    func removeLocked(_ c: UnsafeMutablePointer<ConnNode>, reason: RemovalReason, now: Int64, _ ctx: inout WorkerContext) {
        if ctx.tracingEvents { traceDestroyed(c, reason: reason, now: now, timeouts: timeouts, &ctx) }
        map[c.pointee.original.id] = nil
        map[c.pointee.reply.id] = nil
        liveCount -= 1
        reclaimer.retire(c, &ctx)
    }

    /// Preconditions: mutex is held.
    /// A self-connection's one id maps to its original tuple (both
    /// directions). Preconditions: mutex is held.
    func addLocked(_ c: UnsafeMutablePointer<ConnNode>) {
        if !c.isSelf { map[c.pointee.reply.id] = c.replyPtr }
        map[c.pointee.original.id] = c.originalPtr
        c.pointee.serial = nextSerial
        nextSerial &+= 1
        liveCount += 1
        peakCount = max(peakCount, liveCount)
    }

    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        ctx.stats.lookups &+= 1
        let now = clock.now()
        lock(&ctx)
        var hit = map[p.id]
        ctx.stats.chain.record(hit == nil ? 0 : 1)
        if let t = hit, remainingLocked(t.pointee.conn, now: now, &ctx) < 0 {
            removeLocked(t.pointee.conn, reason: .inline, now: now, &ctx)
            ctx.stats.removedInline &+= 1
            hit = nil
        }
        if let t = hit {
            unlock(&ctx)
            ctx.stats.found &+= 1
            return .tracked(lockedRefreshAndTrack(t, p, now: now, timeouts: timeouts, &ctx))
        }
        ctx.stats.notFound &+= 1
        let reply = p.replyForNewConnection
        if map[reply] != nil {
            unlock(&ctx)
            ctx.stats.insertFailed &+= 1
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        }
        let c = ConnNode.make(original: p.id, reply: reply, hook: p.hook, now: now, nat: p.nat)
        addLocked(c)
        ctx.stats.insert &+= 1
        ctx.noteCreated()
        unlock(&ctx)
        lockConnection(c, &ctx)
        initialiseTracker(c, p, &ctx)
        unlockConnection(c, &ctx)
        if ctx.tracing { traceCreated(c, p, now: now, timeouts: timeouts, &ctx) }
        return .created
    }

    /// Scans the share of entries that `maxSlots` of `sweepSlots`
    /// represents, starting at the matching position (O(n) under the global
    /// lock: the cost this design pays).
    public func reapPass(start: Int, maxSlots maxBuckets: Int, maxEvictions: Int, now: Int64, _ ctx: inout WorkerContext) -> ReapPassResult {
        var r = ReapPassResult()
        lock(&ctx)
        defer { unlock(&ctx) }
        let n = map.count
        let b = sweepSlots
        let s = start % b
        let lo = n * s / b, hi = n * min(b, s + maxBuckets) / b
        var victims: [UnsafeMutablePointer<ConnNode>] = []
        for (pos, t) in map.values.enumerated() where pos >= lo && pos < hi {
            r.checked += 1
            let rem = remainingLocked(t.pointee.conn, now: now, &ctx)
            if rem < 0 {
                r.expired += 1
                if t.pointee.direction == .original && victims.count < maxEvictions { victims.append(t.pointee.conn) }
            } else {
                r.liveChecked += 1; r.remainingSum += Int128(rem)
            }
        }
        for c in victims { removeLocked(c, reason: .reaper, now: now, &ctx) }
        r.removed = victims.count
        ctx.stats.removedByReaper &+= UInt64(victims.count)
        r.slotsScanned = min(maxBuckets, b)
        r.nextStart = s + maxBuckets
        return r
    }

    /// One leaf per map entry, in the map's iteration order (which holds
    /// while the map is not changed).
    public func makeSweepSummary() -> SweepSummary {
        var ctx = WorkerContext(name: "sweep-summary", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        return SweepSummary(leaves: map.values.map { t in
            var leaf = SweepSummary.Leaf.empty
            leaf.add(expiry: remainingLocked(t.pointee.conn, now: 0, &ctx))
            return leaf
        })
    }

    /// The scan of `reapPass` over positions lo..<hi when none of them has
    /// expired: it takes the table lock once and a connection lock per entry.
    public func idlePass(start: Int, maxSlots maxBuckets: Int, maxEvictions: Int, now: Int64, summary: SweepSummary,
                         _ ctx: inout WorkerContext) -> ReapPassResult? {
        let n = summary.size, b = sweepSlots, s = start % b
        guard summary.valid else { return nil }
        let w = summary.range(n * s / b, n * min(b, s + maxBuckets) / b)
        guard w.noneExpired(at: now) else { return nil }
        ctx.stats.tableLock.acquisitions &+= 1
        ctx.stats.connLock.acquisitions &+= UInt64(w.count)
        return ReapPassResult(nextStart: s + maxBuckets, slotsScanned: min(maxBuckets, b), checked: w.count,
                              remainingSum: w.remainingSum(at: now), liveChecked: w.count)
    }

    // Any insert or removal reorders the map: the protocol's defaults for
    // `updateSweepSummary` and `reapPass(updating:)` invalidate the summary.

    /// The map as one slot; the single lock's contention is in the
    /// table-lock counters.
    public func inspect() -> TableInspection {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        var i = TableInspection(slotName: nil, slotLengths: [], stripeName: nil, stripeContention: [],
                                tuples: map.count, connections: liveCount)
        i.retiredNotFreed = reclaimer.backlog
        i.peakConnections = peakCount
        return i
    }

    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var ctx = WorkerContext(name: "invariants", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        var rep = InvariantReport()
        var conns = Set<UnsafeMutablePointer<ConnNode>>()
        for (id, t) in map {
            if t.pointee.id != id { rep.violations.append("key \(id) maps to tuple \(t.pointee.id)") }
            conns.insert(t.pointee.conn)
        }
        for c in conns where map[c.pointee.original.id] != c.originalPtr || (!c.isSelf && map[c.pointee.reply.id] != c.replyPtr) {
            rep.violations.append("connection \(c.pointee.original.id) is missing a tuple")
        }
        // A self-connection holds one entry for both directions.
        let selfConns = conns.filter(\.isSelf).count
        rep.tuples = map.count + selfConns
        rep.connections = conns.count
        if liveCount != conns.count { rep.violations.append("live counter \(liveCount) != connections \(conns.count)") }

        if rep.tuples != 2 * rep.connections { rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)") }
        return rep
    }

    public func expiredCount(now: Int64) -> Int {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        return map.values.reduce(0) { $0 + ($1.pointee.direction == .original && remainingLocked($1.pointee.conn, now: now, &ctx) < 0 ? 1 : 0) }
    }
}

// Export and import: connections in insertion order (the map's own order
// is per-process random), so a round trip gives the same records.
extension GlobalLockTable {
    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        let conns = map.values.filter { $0.pointee.direction == .original }.map(\.pointee.conn)
        for c in conns.sorted(by: { $0.pointee.serial < $1.pointee.serial }) { body(c.lockedRecord(timeouts, now: now)) }
    }

    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        try records.validateForImport(allowDuplicateIDs: false)
        lock(&ctx); defer { unlock(&ctx) }
        precondition(map.isEmpty, "import needs an empty table")
        for r in records { addLocked(ConnNode.make(from: r)) }
    }
}

extension GlobalLockTable {
    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        runPacketLoop(self, &batch, &ctx)
    }
}
