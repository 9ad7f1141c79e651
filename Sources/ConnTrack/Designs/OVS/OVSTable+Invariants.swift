import Sync

extension OVSTable {
    /// Every map entry is a tuple of a listed connection in one of its key's
    /// two buckets under its own hash; every listed connection has both keys
    /// in the map, each once; each list's links, length and class agree; the
    /// count is the number listed. Ids are always unique here.
    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var ctx = WorkerContext(name: "invariants", checkLockOrder: false)
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        var rep = InvariantReport()
        var listed = Set<UnsafeMutablePointer<ConnNode>>()
        for l in 0..<classTimeouts.count {
            var n = 0
            var prev: UnsafeMutablePointer<ConnNode>? = nil
            var c = lists[l].head
            while let x = c {
                n += 1
                if listClass(x) != l { rep.violations.append("connection \(x.pointee.original.id) on list \(l) says class \(listClass(x))") }
                if x.pointee.original.prev?.pointee.conn != prev { rep.violations.append("list \(l): a broken back link") }
                if !listed.insert(x).inserted { rep.violations.append("connection \(x.pointee.original.id) listed twice"); break }
                prev = x
                c = Self.next(x)
            }
            if lists[l].tail != prev { rep.violations.append("list \(l): tail is not the last connection") }
            if n != lists[l].count { rep.violations.append("list \(l): length \(lists[l].count) != \(n) linked") }
        }
        var seen = Set<TupleID>()
        var entries = 0
        map.forEachBucket { b, occupied in
            for (node, h) in occupied {
                entries += 1
                let id = node.pointee.id
                if h != hash(id) { rep.violations.append("bucket \(b): entry \(id) stored under another hash") }
                let (b1, b2) = map.bucketsOf(h)
                if b != b1 && b != b2 { rep.violations.append("entry \(id) in bucket \(b), not one of its own \(b1), \(b2)") }
                if !listed.contains(node.pointee.conn) { rep.violations.append("entry \(id) belongs to no listed connection") }
                if !seen.insert(id).inserted { rep.duplicateIDs += 1; rep.violations.append("tuple \(id) in the map twice") }
            }
        }
        if entries != mapEntries { rep.violations.append("map holds \(entries) keys, counted \(mapEntries)") }
        // Past 85 % the next insert doubles it; under 20 % the last removal halved it.
        if entries > map.maxEntries || entries < map.minEntries {
            rep.violations.append("map of \(map.bucketCount) buckets holds \(entries) keys, outside \(map.minEntries)...\(map.maxEntries)")
        }
        for c in listed {
            if map.find(c.pointee.original.id, hash: hash(c.pointee.original.id)).node != c.originalPtr
                || (!c.isSelf && map.find(c.pointee.reply.id, hash: hash(c.pointee.reply.id)).node != c.replyPtr) {
                rep.violations.append("connection \(c.pointee.original.id) is missing a key")
            }
        }
        rep.connections = listed.count
        // A self-connection holds one entry for both directions.
        rep.tuples = entries + listed.filter(\.isSelf).count
        if count != listed.count { rep.violations.append("count \(count) != connections listed \(listed.count)") }
        if count > limit { rep.violations.append("count \(count) above the limit \(limit)") }
        if rep.tuples != 2 * rep.connections { rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)") }
        return rep
    }
}
