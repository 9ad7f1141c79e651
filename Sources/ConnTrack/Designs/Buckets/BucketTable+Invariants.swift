import Sync
import struct Synchronization.Atomic

extension BucketTable {
    /// Checks the table's structure under the write lock: list links agree
    /// both ways, each bucket's length is its list's length, every tuple
    /// hashes to the bucket it sits in, every connection has both tuples
    /// linked exactly once, and (with `uniqueIDs`) no tuple id repeats.
    /// Preconditions: the caller holds no table lock.
    public func _checkInvariants(uniqueIDs: Bool? = nil) -> InvariantReport {
        var ctx = WorkerContext(name: "invariants", checkLockOrder: false)
        writeLock(&ctx)
        defer { unlockTable(&ctx) }
        var rep = InvariantReport()
        let n = bucketCount
        var seen = Set<UnsafeMutablePointer<TupleNode>>()
        var ids: [TupleID: UnsafeMutablePointer<ConnNode>] = [:]
        var conns = Set<UnsafeMutablePointer<ConnNode>>()
        for b in 0..<n {
            let bp = bucketPtr(b)
            var prev: UnsafeMutablePointer<TupleNode>? = nil
            var t = bp.pointee.head
            var len = 0
            while let x = t {
                len += 1
                if len > 4 * (bp.pointee.length + 1) + 1_000_000 {
                    rep.violations.append("bucket \(b): list does not terminate"); break
                }
                if x.pointee.prev != prev { rep.violations.append("bucket \(b): prev link of \(x.pointee.id) is wrong") }
                if !seen.insert(x).inserted { rep.violations.append("bucket \(b): tuple \(x.pointee.id) linked twice"); break }
                if bucketIndex(x.pointee.id) != b {
                    rep.violations.append("tuple \(x.pointee.id) sits in bucket \(b) but hashes to \(bucketIndex(x.pointee.id))")
                }
                let c = x.pointee.conn
                let own = x.pointee.direction == .original ? c.originalPtr : c.replyPtr
                if own != x { rep.violations.append("tuple \(x.pointee.id) is not its connection's \(x.pointee.direction) tuple") }
                // A self-connection's two tuples share one id: not a duplicate.
                if let owner = ids[x.pointee.id] {
                    if owner != x.pointee.conn || !owner.isSelf { rep.duplicateIDs += 1 }
                } else {
                    ids[x.pointee.id] = x.pointee.conn
                }
                conns.insert(c)
                prev = x
                t = x.pointee.next
            }
            if len != bp.pointee.length {
                rep.violations.append("bucket \(b): length field \(bp.pointee.length) but \(len) tuples linked")
            }
            rep.tuples += len
        }
        for c in conns where !seen.contains(c.originalPtr) || !seen.contains(c.replyPtr) {
            rep.violations.append("connection \(c.pointee.original.id) has a tuple missing from the table")
        }
        rep.connections = conns.count
        for c in conns where c.pointee.retired {
            rep.violations.append("removed connection \(c.pointee.original.id) is still linked")
        }
        let twice = reclaimer.doubleRetireCount
        if twice > 0 { rep.violations.append("\(twice) connections were removed twice") }
        if rep.tuples != 2 * rep.connections {
            rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)")
        }
        if uniqueIDs ?? rules.uniqueTupleIDs, rep.duplicateIDs > 0 {
            rep.violations.append("\(rep.duplicateIDs) duplicate tuple ids")
        }
        if let v = limit.check(connections: rep.connections) {
            rep.violations.append(v)
        }
        return rep
    }

    /// Bucket occupancy and per-bucket contention for reports.
    public func inspect() -> TableInspection {
        let per = perBucket { ($0.length, $0.contended) }
        let lengths = per.map(\.0)
        var i = TableInspection(slotName: "bucket", slotLengths: lengths, stripeName: "bucket lock",
                                stripeContention: per.map(\.1), tuples: lengths.reduce(0, +),
                                connections: connections().count)
        i.retiredNotFreed = reclaimer.backlog
        i.peakConnections = limit.peakConnections
        return i
    }

    /// Tuples in each bucket.
    public func bucketLengths() -> [Int] { perBucket(\.length) }

    /// `read` of every bucket, each under its own lock in turn.
    func perBucket<T>(_ read: (Bucket) -> T) -> [T] {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        readLock(&ctx)
        defer { unlockTable(&ctx) }
        return (0..<bucketCount).map { b in
            lockBucket(b, &ctx)
            defer { unlockBucket(b, &ctx) }
            return read(bucketPtr(b).pointee)
        }
    }

    /// Every connection in the table (visited from its original tuple),
    /// with its mutable state read under its lock. For tests and
    /// invariant checks; takes the write lock.
    public func connections() -> [Connection] {
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        writeLock(&ctx)
        defer { unlockTable(&ctx) }
        var out: [Connection] = []
        for b in 0..<bucketCount {
            var t = bucketPtr(b).pointee.head
            while let x = t {
                if x.pointee.direction == .original { out.append(Connection(x.pointee.conn)) }
                t = x.pointee.next
            }
        }
        return out
    }

    /// Tuples and distinct connections currently linked.
    public var tupleCount: Int { bucketLengths().reduce(0, +) }

    /// Connections that have timed out at `now` but are still linked.
    public func expiredCount(now: Int64) -> Int { expiredCount(now: now, part: 0, of: 1)! }

    /// Over buckets `part`, `part` + `parts`, …: each connection counted at
    /// its original tuple's bucket. Takes the write lock.
    public func expiredCount(now: Int64, part: Int, of parts: Int) -> Int? {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        var ctx = WorkerContext(name: "inspect", checkLockOrder: false)
        writeLock(&ctx)
        defer { unlockTable(&ctx) }
        var n = 0
        for b in stride(from: part, to: bucketCount, by: parts) {
            var t = bucketPtr(b).pointee.head
            while let x = t {
                if x.pointee.direction == .original {
                    let c = Connection(x.pointee.conn)
                    let s = c.snapshot()
                    let left = s.lastUsed &+ timeouts.timeout(proto: c.originalID.transProto, tcb: s.tcb, udp: s.udp) &- now
                    if left < 0 { n += 1 }
                }
                t = x.pointee.next
            }
        }
        return n
    }
}

extension BucketTable {
    /// Holds bucket i's lock on a helper thread until the returned closure
    /// is called (from any thread): lets tests stall the table the way a
    /// lost unlock would. The lock is held when this returns. A pthread
    /// mutex must be unlocked by its owner, hence the helper.
    public func _holdBucketLockForTesting(_ i: Int) -> @Sendable () -> Void {
        let state = HoldState()
        let m = UnsafeSendablePointer(bucketPtr(i).pointer(to: \.mutex)!)
        let helper = OSThread {
            PThread.lock(m.p)
            state.held.store(true, ordering: .releasing)
            while !state.release.load(ordering: .acquiring) { OSThread.sleep(nanoseconds: 1_000_000) }
            PThread.unlock(m.p)
        }
        while !state.held.load(ordering: .acquiring) { OSThread.sleep(nanoseconds: 100_000) }
        return {
            state.release.store(true, ordering: .releasing)
            helper.join()
        }
    }
}

final class HoldState: Sendable {
    let held = Atomic<Bool>(false)
    let release = Atomic<Bool>(false)
}

struct UnsafeSendablePointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<pthread_mutex_t>
    init(_ p: UnsafeMutablePointer<pthread_mutex_t>) { self.p = p }
}

#if canImport(Glibc)
import Glibc
#endif
