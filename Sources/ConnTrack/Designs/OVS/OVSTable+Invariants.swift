import Sync

extension OVSTable {
    /// Every map entry is a key of a listed connection (a reverse key only
    /// under NAT) in one of its two buckets under its own hash; every listed
    /// connection is found by both its keys; at most one connection live
    /// when the last one was made holds a key; each list's links, length
    /// and the index its connections record agree; the count is the
    /// number listed.
    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var ctx = WorkerContext(name: "invariants", checkLockOrder: false)
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        var rep = InvariantReport()
        var listed = Set<UnsafeMutablePointer<ConnNode>>()
        for l in 0..<Self.expiryListCount {
            var n = 0
            var prev: UnsafeMutablePointer<ConnNode>? = nil
            var c = head(l)
            while let x = c {
                n += 1
                if listIndex(x) != l { rep.violations.append("connection \(x.pointee.original.id) on list \(l) says list \(listIndex(x))") }
                if x.pointee.original.prev?.pointee.conn != prev { rep.violations.append("list \(l): a broken back link") }
                if !listed.insert(x).inserted { rep.violations.append("connection \(x.pointee.original.id) listed twice"); break }
                prev = x
                c = Self.next(x)
            }
            if lists[l].tail != prev { rep.violations.append("list \(l): tail is not the last connection") }
            if n != lists[l].count { rep.violations.append("list \(l): length \(lists[l].count) != \(n) linked") }
        }
        var entries = 0
        map.forEachBucket { b, occupied in
            for (node, h) in occupied {
                entries += 1
                let id = node.pointee.id
                let c = node.pointee.conn
                if h != hash(id) { rep.violations.append("bucket \(b): entry \(id) stored under another hash") }
                let (b1, b2) = map.bucketsOf(h)
                if b != b1 && b != b2 { rep.violations.append("entry \(id) in bucket \(b), not one of its own \(b1), \(b2)") }
                if !listed.contains(c) { rep.violations.append("entry \(id) belongs to no listed connection") }
                if node.pointee.direction == .reply && !c.pointee.natRedirect {
                    rep.violations.append("the reverse key \(id) of a connection without NAT is in the map")
                }
            }
        }
        let keyed = listed.count + listed.filter { $0.pointee.natRedirect && !$0.isSelf }.count
        if entries != keyed { rep.violations.append("map holds \(entries) keys, its connections \(keyed)") }
        if entries != mapEntries { rep.violations.append("map holds \(entries) keys, counted \(mapEntries)") }
        // Past 85 % the next insert doubles it; under 20 % the last removal halved it.
        if entries > map.maxEntries || entries < map.minEntries {
            rep.violations.append("map of \(map.bucketCount) buckets holds \(entries) keys, outside \(map.minEntries)...\(map.maxEntries)")
        }
        // A key may have several holders (an expired connection stays beside
        // its successor until the sweeper takes it), but at most one that
        // was live when the last connection was made.
        var liveHolders: [TupleID: Int] = [:]
        for c in listed {
            for id in [c.pointee.original.id, c.pointee.reply.id] {
                let found = map.findAll(hash: hash(id)) { node in
                    node.pointee.conn == c && (c.isOriginal(id) || c.pointee.reply.id == id)
                }
                if found.matches.count == 0 { rep.violations.append("connection \(c.pointee.original.id) is not found by its key \(id)") }
            }
            PThread.lock(c.mutexPtr)
            let stored = Self.expirationWord(c).pointee.load(ordering: .relaxed)
            let due = dueExpiration(c)
            PThread.unlock(c.mutexPtr)
            if stored != due {
                rep.violations.append("connection \(c.pointee.original.id): expiration \(stored), its state gives \(due)")
            }
            if !Self.expired(remaining(c, now: newestCreate)) {
                liveHolders[c.pointee.original.id, default: 0] += 1
                if !c.isSelf { liveHolders[c.pointee.reply.id, default: 0] += 1 }
            }
        }
        for (id, n) in liveHolders where n > 1 {
            rep.duplicateIDs += n - 1
            rep.violations.append("key \(id) held by \(n) connections live at \(newestCreate)")
        }
        rep.connections = listed.count
        rep.tuples = 2 * listed.count
        if count != listed.count { rep.violations.append("count \(count) != connections listed \(listed.count)") }
        if count > limit { rep.violations.append("count \(count) above the limit \(limit)") }
        return rep
    }
}
