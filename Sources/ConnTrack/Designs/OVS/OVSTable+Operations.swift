// Operations while packets flow (`--op`).
extension OVSTable {
    /// As `conntrack_dump_next` walks (lib/conntrack.c): a cursor over the
    /// cmap without a lock, each bucket read between two loads of its
    /// counter, forward keys only, each connection's state read under its
    /// own lock, expired ones skipped. A cuckoo insert that displaces
    /// entries can hide one from a cursor or show it twice; OVS accepts
    /// that. Here a connection met twice is listed once, and a walk during
    /// which an entry moved is repeated (`retries`), up to three times,
    /// then walked under ct_lock, which displacements need, so every
    /// connection live for the whole walk is listed exactly once.
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        var n = OperationCounts()
        for attempt in 0...3 {
            let locked = attempt == 3
            if locked { lockCT(&ctx) }
            let before = moves.pointee.load(ordering: .sequentiallyConsistent)
            // One map for the whole walk; one rebuilt since is freed only
            // after this thread's quiescent point, so the walk stops at the
            // first one after a rebuild (and walks again: `moved`).
            let mapPointer = mapSlot.load(ordering: .acquiring)
            let map = mapPointer.pointee
            var seen = Set<UnsafeMutablePointer<ConnNode>>()
            var records: [ConnectionRecord] = []
            var nodes: [UnsafeMutablePointer<ConnNode>] = []
            for b in 0..<map.bucketCount {
                while true {
                    let w0 = map.readEven(b)
                    nodes.removeAll(keepingCapacity: true)
                    for i in 0..<CuckooMap.slots {
                        let e = map.word(b, 3 &+ i).pointee.load(ordering: .acquiring)
                        guard e != 0, let node = UnsafeMutablePointer<TupleNode>(bitPattern: UInt(e)) else { continue }
                        n.visited += 1
                        if node.pointee.direction == .original { nodes.append(node.pointee.conn) }
                    }
                    if !map.changed(b, since: w0) { break }
                    n.retries += 1
                }
                for c in nodes where seen.insert(c).inserted {
                    lockConnection(c, &ctx)
                    let r = record(c, now: now)
                    unlockConnection(c, &ctx)
                    if !Self.expired(r.timeoutLeft) { records.append(r) }
                }
                if !locked {
                    workerQuiescent(slot)
                    if mapSlot.load(ordering: .acquiring) != mapPointer { break }
                }
            }
            let moved = moves.pointee.load(ordering: .sequentiallyConsistent) != before
            if locked { unlockCT(&ctx) }
            if !moved || locked {
                for r in records { body(r) }
                n.listed = records.count
                return n
            }
            n.retries += 1
        }
        preconditionFailure("unreachable: the fourth walk holds ct_lock")
    }
}

extension OVSTable {
    /// As `conntrack_flush` (lib/conntrack.c): a cursor over the cmap
    /// without a lock, and each matching connection cleaned under ct_lock
    /// (`conn_clean`), taken per connection, if no one removed it since.
    /// A connection an insert moved past the cursor is caught by walking
    /// again while entries moved (at most three walks, the last under
    /// ct_lock).
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        var n = OperationCounts()
        for attempt in 0...3 {
            let locked = attempt == 3
            if locked { lockCT(&ctx) }
            let before = moves.pointee.load(ordering: .sequentiallyConsistent)
            // One map for the whole walk; one rebuilt since is freed only
            // after this thread's quiescent point, so the walk stops at the
            // first one after a rebuild (and walks again: `moved`).
            let mapPointer = mapSlot.load(ordering: .acquiring)
            let map = mapPointer.pointee
            var nodes: [UnsafeMutablePointer<ConnNode>] = []
            for b in 0..<map.bucketCount {
                while true {
                    let w0 = map.readEven(b)
                    nodes.removeAll(keepingCapacity: true)
                    for i in 0..<CuckooMap.slots {
                        let e = map.word(b, 3 &+ i).pointee.load(ordering: .acquiring)
                        guard e != 0, let node = UnsafeMutablePointer<TupleNode>(bitPattern: UInt(e)) else { continue }
                        n.visited += 1
                        if node.pointee.direction == .original && filter.matches(node.pointee.id) { nodes.append(node.pointee.conn) }
                    }
                    if !map.changed(b, since: w0) { break }
                    n.retries += 1
                }
                for c in nodes {
                    if !locked { lockCT(&ctx) }
                    // Removed by someone else since the cursor read it: retired.
                    if !c.pointee.retired {
                        remove(c, reason: .other, now: now, &ctx)
                        ctx.stats.countRemoval(.operation)
                        n.removed += 1
                    }
                    if !locked { unlockCT(&ctx) }
                }
                if !locked {
                    workerQuiescent(slot)
                    if mapSlot.load(ordering: .acquiring) != mapPointer { break }
                }
            }
            let moved = moves.pointee.load(ordering: .sequentiallyConsistent) != before
            if locked { unlockCT(&ctx) }
            if !moved || locked { return n }
            n.retries += 1
        }
        preconditionFailure("unreachable: the fourth walk holds ct_lock")
    }
}
