import Sync
import struct Synchronization.Atomic

// Export and import of connections. Every bucket list is in descending
// insertion order (push-front; removal never reorders), so an order in
// which each connection comes after the older neighbours of both its
// tuples, re-inserted with push-front, rebuilds every list exactly: the
// walks, and with them the 2020 variant's behaviour, continue unchanged.
extension BucketTable {
    /// Connections oldest-first, an order consistent with every list.
    /// Each connection's `serial` (unused by this design) holds its index
    /// while the order is computed, so the graph lives in flat arrays.
    /// Preconditions: the write lock is held.
    func connectionsInInsertionOrder() -> [UnsafeMutablePointer<ConnNode>] {
        let unseen = UInt64.max
        for b in 0..<bucketCount {
            var t = bucketPtr(b).pointee.head
            while let x = t { x.pointee.conn.pointee.serial = unseen; t = x.pointee.next }
        }
        // Connections in bucket order of first sight, then the edges
        // "older neighbour → connection" of every list.
        var conns: [UnsafeMutablePointer<ConnNode>] = []
        for b in 0..<bucketCount {
            var t = bucketPtr(b).pointee.head
            while let x = t {
                let c = x.pointee.conn
                if c.pointee.serial == unseen { c.pointee.serial = UInt64(conns.count); conns.append(c) }
                t = x.pointee.next
            }
        }
        var edges: [(older: Int32, newer: Int32)] = []
        for b in 0..<bucketCount {
            var t = bucketPtr(b).pointee.head
            while let x = t {
                let c = x.pointee.conn
                if let older = x.pointee.next, older.pointee.conn != c {
                    edges.append((Int32(older.pointee.conn.pointee.serial), Int32(c.pointee.serial)))
                }
                t = x.pointee.next
            }
        }
        let order = InsertionOrder.indices(count: conns.count, edges: edges).map { conns[Int($0)] }
        for c in conns { c.pointee.serial = 0 }
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
        try limit.checkImport(records.count)
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
        limit.noteImported(records.count)
    }
}
