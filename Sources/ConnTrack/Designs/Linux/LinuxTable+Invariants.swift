import Sync
import struct Synchronization.Atomic

// Inspection and structural checks (not on the packet path; callers make
// sure no worker changes the table meanwhile).
extension LinuxTable {
    /// Nodes in bucket b's chain.
    func chainLength(_ b: Int) -> Int { chainLength(b, heads: ht.heads) }

    func chainLength(_ b: Int, heads: UnsafeMutablePointer<Atomic<UInt>>) -> Int {
        var n = 0
        forEachNode(bucket: b, heads: heads) { _, _ in n += 1 }
        return n
    }

    public func inspect() -> TableInspection {
        let t = ht
        let lengths = (0..<t.size).map { chainLength($0, heads: t.heads) }
        let tuples = lengths.reduce(0, +)
        var conns = 0
        for b in 0..<t.size { forEachNode(bucket: b, heads: t.heads) { _, d in if d == 0 { conns += 1 } } }
        var i = TableInspection(slotName: "bucket", slotLengths: lengths, stripeName: "stripe lock",
                                stripeContention: (0..<Self.stripeCount).map { stripes[$0].contended },
                                tuples: tuples, connections: conns)
        i.retiredNotFreed = reclaimer.backlog
        i.peakConnections = limit.peakConnections
        return i
    }

    /// Checks every chain: it ends at its own bucket's marker, each node's
    /// back link names the word that links to it, each node hashes to its
    /// bucket, every connection is confirmed, not dying, held by the table
    /// alone and linked by both nodes once; no tuple repeats; the count
    /// matches the connections.
    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var rep = InvariantReport()
        var nodes = Set<UInt>()
        var conns = Set<UnsafeMutableRawPointer>()
        var ids = Set<TupleID>()
        let heads = ht.heads
        for b in 0..<bucketCount {
            var prevWord = heads + b
            var v = prevWord.pointee.load(ordering: .acquiring)
            var hops = 0
            while v & 1 == 0 {
                let c = LinuxConn(link: v)
                let d = LinuxConn.direction(v)
                hops += 1
                if hops > 1 << 22 { rep.violations.append("bucket \(b): chain does not end"); break }
                if !nodes.insert(v).inserted { rep.violations.append("bucket \(b): node \(c.tuple(d)) linked twice"); break }
                if c.pprev(d).pointee != prevWord { rep.violations.append("bucket \(b): back link of \(c.tuple(d)) is wrong") }
                if bucket(c.tuple(d)) != b {
                    rep.violations.append("tuple \(c.tuple(d)) sits in bucket \(b) but hashes to \(bucket(c.tuple(d)))")
                }
                let s = c.status.pointee.load(ordering: .acquiring)
                if s & LinuxStatus.confirmed == 0 || s & LinuxStatus.dying != 0 {
                    rep.violations.append("connection \(c.keys.pointee.original) is linked but not confirmed or dying (status \(s))")
                }
                let refs = c.refs.pointee.load(ordering: .acquiring)
                if refs != 1 { rep.violations.append("connection \(c.keys.pointee.original) at rest holds \(refs) references, not 1") }
                if c.retired.pointee != 0 { rep.violations.append("removed connection \(c.keys.pointee.original) is still linked") }
                // A self-connection's two tuples are one id.
                if (d == 0 || c.keys.pointee.reply != c.keys.pointee.original) && !ids.insert(c.tuple(d)).inserted {
                    rep.duplicateIDs += 1
                }
                conns.insert(c.base)
                rep.tuples += 1
                prevWord = c.next(d)
                v = prevWord.pointee.load(ordering: .acquiring)
            }
            if v & 1 == 1 && v &>> 1 != UInt(b) {
                rep.violations.append("bucket \(b): chain ends at the marker of bucket \(v >> 1)")
            }
        }
        for p in conns {
            let c = LinuxConn(p)
            if !nodes.contains(c.link(0)) || !nodes.contains(c.link(1)) {
                rep.violations.append("connection \(c.keys.pointee.original) has a node missing from the table")
            }
        }
        rep.connections = conns.count
        if rep.tuples != 2 * rep.connections {
            rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)")
        }
        let twice = reclaimer.doubleRetireCount
        if twice > 0 { rep.violations.append("\(twice) connections were removed twice") }
        if (uniqueIDs ?? true) && rep.duplicateIDs > 0 { rep.violations.append("\(rep.duplicateIDs) duplicate tuple ids") }
        if let v = limit.check(connections: rep.connections) { rep.violations.append(v) }
        return rep
    }

    public func expiredCount(now: Int64) -> Int { expiredCount(now: now, part: 0, of: 1)! }

    /// Over buckets `part`, `part` + `parts`, …: each connection counted at
    /// its original tuple's bucket.
    public func expiredCount(now: Int64, part: Int, of parts: Int) -> Int? {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        var n = 0
        let t = ht
        for b in stride(from: part, to: t.size, by: parts) {
            forEachNode(bucket: b, heads: t.heads) { c, d in if d == 0 && c.remaining(now: now) < 0 { n += 1 } }
        }
        return n
    }

    /// Looks a tuple up as a packet would (removing expired connections on
    /// the way, without refreshing): its record and direction.
    public func lookup(_ id: TupleID, now: Int64) -> (ConnectionRecord, Direction)? {
        var ctx = WorkerContext(name: "lookup", checkLockOrder: false)
        guard let (c, d) = findGet(id, hash: hash(id), now: now, &ctx) else { return nil }
        defer { c.put() }
        return (record(c, now: now, &ctx), d == 0 ? .original : .reply)
    }
}
