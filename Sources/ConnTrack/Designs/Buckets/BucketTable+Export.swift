import Sync
import struct Synchronization.Atomic

// Export and import of connections. Every bucket list is in descending
// insertion order (push-front; removal never reorders), so an order in
// which each connection comes after the older neighbours of both its
// tuples, re-inserted with push-front, rebuilds every list exactly: the
// walks, and with them the 2020 variant's behaviour, continue unchanged.
extension BucketTable {
    /// Connections oldest-first, an order consistent with every list.
    /// Preconditions: the write lock is held.
    func connectionsInInsertionOrder() -> [UnsafeMutablePointer<ConnNode>] {
        // Older neighbour of each tuple: the element after it in its list.
        var deps: [UnsafeMutablePointer<ConnNode>: [UnsafeMutablePointer<ConnNode>]] = [:]
        var dependents: [UnsafeMutablePointer<ConnNode>: [UnsafeMutablePointer<ConnNode>]] = [:]
        var seeds: [UnsafeMutablePointer<ConnNode>] = []
        for b in 0..<bucketCount {
            var t = bucketPtr(b).pointee.head
            while let x = t {
                let c = x.pointee.conn
                if deps[c] == nil { deps[c] = []; seeds.append(c) }
                if let older = x.pointee.next, older.pointee.conn != c {
                    deps[c]!.append(older.pointee.conn)
                    dependents[older.pointee.conn, default: []].append(c)
                }
                t = x.pointee.next
            }
        }
        var pending = deps.mapValues(\.count)
        var order: [UnsafeMutablePointer<ConnNode>] = []
        order.reserveCapacity(deps.count)
        // Kahn's algorithm, seeded in bucket order so the result is a
        // function of the table alone.
        var ready = seeds.filter { pending[$0] == 0 }
        var i = 0
        while i < ready.count {
            let c = ready[i]
            i += 1
            order.append(c)
            for d in dependents[c] ?? [] {
                pending[d]! -= 1
                if pending[d] == 0 { ready.append(d) }
            }
        }
        // Lists built only by push-front cannot form a cycle; if corruption
        // made one, keep every connection anyway.
        if order.count < deps.count {
            let placed = Set(order)
            order += seeds.filter { !placed.contains($0) }
        }
        return order
    }

    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        writeLock(&ctx)
        defer { unlockTable(&ctx) }
        for c in connectionsInInsertionOrder() { body(c.lockedRecord(timeouts, now: now)) }
    }

    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        try records.validateForImport(allowDuplicateIDs: !rules.uniqueTupleIDs)
        if maxConnections != Int.max && records.count > maxConnections {
            throw ImportError(record: maxConnections, reason: "more connections (\(records.count)) than --max-connections \(maxConnections)")
        }
        writeLock(&ctx)
        defer { unlockTable(&ctx) }
        precondition(connectionsInInsertionOrder().isEmpty, "import needs an empty table")
        for r in records {
            let c = ConnNode.make(from: r)
            let tb = bucketIndex(r.original)
            let rb = bucketIndex(r.reply)
            // The write lock excludes every other thread; bucket locks are
            // still taken, in order, so the rank checker sees the same rules.
            lockBucket(min(tb, rb), &ctx)
            if tb != rb { lockBucket(max(tb, rb), &ctx) }
            pushFront(c.originalPtr, tb)
            pushFront(c.replyPtr, rb)
            unlockBucket(min(tb, rb), &ctx)
            if tb != rb { unlockBucket(max(tb, rb), &ctx) }
        }
        if maxConnections != Int.max {
            live.store(records.count, ordering: .relaxed)
            notePeak(records.count)
        }
    }
}
