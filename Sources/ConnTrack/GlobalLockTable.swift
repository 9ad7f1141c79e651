#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The design the seed replaced: one mutex around a Swift `Dictionary`
/// from tuple to connection. Same packet path, tracker and timeouts as
/// `BucketTable` (with the `fixed` rules), so `compare` isolates the cost of
/// the data structure and its lock.
///
/// Lock order: table mutex (rank: table) < connection.
public final class GlobalLockTable: ConnTrackTable, @unchecked Sendable {
    public let config: TableConfig
    public let reclaimer = Reclaimer()
    let timeouts: Timeouts
    /// The table lock.
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// protected by mutex
    var map: [TupleID: UnsafeMutablePointer<TupleNode>] = [:]

    public init(_ config: TableConfig) {
        self.config = config
        timeouts = config.timeouts
        mutex = .allocate(capacity: 1)
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

    /// Reported as the number of "buckets" a reaper pass divides the table into.
    public var bucketCount: Int { config.buckets }

    func lock(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        ctx.locks.willAcquire(.table, file: file, line: line)
        ctx.stats.tableLock.acquisitions &+= 1
        if pthread_mutex_trylock(mutex) != 0 {
            PThread.lockContended(mutex, &ctx.stats.tableLock, watch: ctx.locks.watch, rank: .table)
        }
    }

    func unlock(_ ctx: inout WorkerContext) {
        PThread.unlock(mutex)
        ctx.locks.released(.table)
    }

    /// Preconditions: mutex is held.
    func remainingLocked(_ c: UnsafeMutablePointer<ConnNode>, now: Int64, _ ctx: inout WorkerContext) -> Int64 {
        lockConnection(c, &ctx)
        let r = timeRemaining(c, timeouts, now: now)
        unlockConnection(c, &ctx)
        return r
    }

    /// Preconditions: mutex is held.
    func removeLocked(_ c: UnsafeMutablePointer<ConnNode>) {
        map[c.pointee.original.id] = nil
        map[c.pointee.reply.id] = nil
        reclaimer.retire(c)
    }

    public func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        ctx.stats.lookups &+= 1
        let now = clock.now()
        lock(&ctx)
        var hit = map[p.id]
        ctx.stats.chain.record(hit == nil ? 0 : 1)
        if let t = hit, remainingLocked(t.pointee.conn, now: now, &ctx) < 0 {
            removeLocked(t.pointee.conn)
            ctx.stats.removedInline &+= 1
            hit = nil
        }
        if let t = hit {
            unlock(&ctx)
            ctx.stats.found &+= 1
            return .tracked(trackerUpdate(t, p, now: now, &ctx))
        }
        ctx.stats.notFound &+= 1
        let reply = p.replyForNewConnection
        if map[reply] != nil {
            unlock(&ctx)
            ctx.stats.insertFailed &+= 1
            return .notTracked
        }
        let c = ConnNode.make(original: p.id, reply: reply, hook: p.hook, now: now, nat: p.nat)
        map[p.id] = c.originalPtr
        map[reply] = c.replyPtr
        ctx.stats.insert &+= 1
        ctx.stats.created &+= 1
        unlock(&ctx)
        lockConnection(c, &ctx)
        initialiseTracker(c, p, &ctx)
        unlockConnection(c, &ctx)
        return .created
    }

    func trackerUpdate(_ t: UnsafeMutablePointer<TupleNode>, _ p: Packet, now: Int64, _ ctx: inout WorkerContext) -> TrackerResult? {
        let c = t.pointee.conn
        lockConnection(c, &ctx)
        defer { unlockConnection(c, &ctx) }
        return refreshAndTrack(c, p, now: now, &ctx)
    }

    /// Scans the share of entries that `maxBuckets` of `bucketCount`
    /// represents, starting at the matching position (O(n) under the global
    /// lock: the cost this design pays).
    public func reapPass(start: Int, maxBuckets: Int, maxEvictions: Int, now: Int64, _ ctx: inout WorkerContext) -> BucketTable.PassResult {
        var r = BucketTable.PassResult(nextStart: 0, bucketsScanned: 0, checked: 0, expired: 0, removed: 0, deferred: 0,
                                       remainingSum: 0, liveChecked: 0, stoppedEarly: false)
        lock(&ctx)
        defer { unlock(&ctx) }
        let n = map.count
        let b = bucketCount
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
                r.liveChecked += 1; r.remainingSum += Double(rem)
            }
        }
        for c in victims { removeLocked(c) }
        r.removed = victims.count
        ctx.stats.removedByReaper &+= UInt64(victims.count)
        r.bucketsScanned = min(maxBuckets, b)
        r.nextStart = s + maxBuckets
        return r
    }

    public func bucketLengths() -> [Int] {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        return [map.count]
    }

    public func bucketContention() -> [UInt64] { [] }

    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var ctx = WorkerContext(name: "invariants", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        var rep = InvariantReport()
        var conns = Set<UnsafeMutablePointer<ConnNode>>()
        for (id, t) in map {
            if t.pointee.id != id { rep.violations.append("key \(id) maps to tuple \(t.pointee.id)") }
            conns.insert(t.pointee.conn)
        }
        for c in conns where map[c.pointee.original.id] != c.originalPtr || map[c.pointee.reply.id] != c.replyPtr {
            rep.violations.append("connection \(c.pointee.original.id) is missing a tuple")
        }
        rep.tuples = map.count
        rep.connections = conns.count
        if rep.tuples != 2 * rep.connections { rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)") }
        return rep
    }

    public func expiredCount(now: Int64) -> Int {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        lock(&ctx); defer { unlock(&ctx) }
        return map.values.reduce(0) { $0 + ($1.pointee.direction == .original && remainingLocked($1.pointee.conn, now: now, &ctx) < 0 ? 1 : 0) }
    }
}
