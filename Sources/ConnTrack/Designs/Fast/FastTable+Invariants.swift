// Inspection and structural checks (not on the packet path; callers make
// sure no worker changes the table meanwhile).
extension FastTable {
    /// Slots in the chain of home bucket b of `ix`.
    func chainLength(in ix: FastIndex, home b: Int) -> Int {
        var n = 0
        var bucket = b
        while true {
            for k in 1...Self.slotsPerBucket where ix.word(bucket, k).pointee.load(ordering: .acquiring) != 0 { n += 1 }
            let link = ix.word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
            if link == 0 { return n }
            bucket = Int(truncatingIfNeeded: link) &- 1
        }
    }

    /// The slots of home buckets, as a report shows them: index slots per
    /// home bucket (its chain), per-stripe contention, connections (a NAT
    /// connection's two tuples and every other one's symmetric slot count
    /// as two tuples, as in every design).
    public func inspect() -> TableInspection {
        var conns = 0
        forEachPublished { _, _ in conns += 1 }
        let ix = index
        var i = TableInspection(slotName: "index bucket", slotLengths: (0..<ix.homeBuckets).map { chainLength(in: ix, home: $0) },
                                stripeName: "stripe lock", stripeContention: (0..<stripeCount).map { stripes[$0].contended },
                                tuples: 2 * conns, connections: conns)
        i.retiredNotFreed = reclaimer.backlog
        i.peakConnections = limit.peakConnections
        i.mappedBytes = (ix.homeBuckets + ix.overflowUsed.pointee.load(ordering: .relaxed)) * 64 + pool.bytes
        return i
    }

    /// Home buckets, overflow buckets in use and their capacity, and bytes
    /// of index and entry memory (the `fast` section of a report).
    public var layoutFigures: (homeBuckets: Int, overflowUsed: Int, overflowCapacity: Int, indexBytes: Int, entryBytes: Int) {
        let ix = index
        return (ix.homeBuckets, ix.overflowUsed.pointee.load(ordering: .relaxed), ix.overflowCapacity, ix.bytes, pool.bytes)
    }

    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var rep = InvariantReport()
        var slotsOf: [UInt32: Int] = [:]
        let handedOut = pool.counts().handedOut
        let ix = index
        for b in 0..<ix.homeBuckets {
            let w0 = ix.word(b, 0).pointee.load(ordering: .acquiring)
            if w0 & 1 != 0 { rep.violations.append("bucket \(b): odd version \(w0 & 0xFFFF_FFFF) at rest") }
            var bucket = b
            var hops = 0
            while true {
                for k in 1...Self.slotsPerBucket {
                    let s = ix.word(bucket, k).pointee.load(ordering: .acquiring)
                    guard s != 0 else { continue }
                    let i = Self.entryIndex(s)
                    guard Int(i) < handedOut else {
                        rep.violations.append("bucket \(b): slot names entry \(i), never handed out")
                        continue
                    }
                    let e = pool.entry(i)
                    if !e.isPublished { rep.violations.append("bucket \(b): slot names unpublished entry \(i)") }
                    let kind = Self.kind(s)
                    let key = kind == .reply ? e.reply : e.original
                    let h = hash(key)
                    if ix.home(h) != b || Self.tag(h) != s &>> 48 {
                        rep.violations.append("entry \(i) (\(key)) sits in bucket \(b), hashes to \(ix.home(h))")
                    }
                    let expected: SlotKind = e.layout == .symmetric ? .both : (kind == .reply ? .reply : .original)
                    if kind != expected || (kind == .reply && e.layout != .pair) {
                        rep.violations.append("entry \(i): a \(kind) slot for layout \(e.layout)")
                    }
                    slotsOf[i, default: 0] += 1
                }
                let link = ix.word(bucket, 0).pointee.load(ordering: .acquiring) &>> 32
                if link == 0 { break }
                bucket = Int(truncatingIfNeeded: link) &- 1
                hops += 1
                if bucket < ix.homeBuckets || hops > ix.overflowCapacity {
                    rep.violations.append("bucket \(b): overflow chain broken at \(bucket)")
                    break
                }
            }
        }
        var ids = Set<TupleID>()
        forEachPublished { i, e in
            rep.connections += 1
            let want = e.layout == .pair ? 2 : 1
            if slotsOf[i, default: 0] != want {
                rep.violations.append("entry \(i) (\(e.original)) has \(slotsOf[i, default: 0]) slots, needs \(want)")
            }
            let r = e.reply
            if !ids.insert(e.original).inserted { rep.duplicateIDs += 1 }
            if r != e.original, !ids.insert(r).inserted { rep.duplicateIDs += 1 }
        }
        rep.tuples = 2 * rep.connections
        if (uniqueIDs ?? true) && rep.duplicateIDs > 0 { rep.violations.append("\(rep.duplicateIDs) duplicate tuple ids") }
        if let v = limit.check(connections: rep.connections) {
            rep.violations.append(v)
        }
        return rep
    }

    public func expiredCount(now: Int64) -> Int { expiredCount(now: now, part: 0, of: 1)! }

    /// Over entries `part`, `part` + `parts`, … of the pool: the pool hands
    /// entries out as connections arrive (reusing freed ones), so every
    /// `parts`-th entry samples arrivals evenly, and touches a `parts`-th of
    /// the memory.
    public func expiredCount(now: Int64, part: Int, of parts: Int) -> Int? {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        var n = 0
        for i in stride(from: part, to: pool.counts().handedOut, by: parts) {
            let e = pool.entry(UInt32(i))
            if e.isPublished && remaining(e, now: now) < 0 { n += 1 }
        }
        return n
    }
}
