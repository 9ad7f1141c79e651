// Operations while packets flow (`--op`).
extension GlobalLockTable {
    /// Under the one lock for the whole walk: the design has no finer one,
    /// and a `Dictionary` cannot be walked across unlocks (an insert may
    /// rehash it). Every packet waits for the dump: that is this design's
    /// cost.
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        var n = OperationCounts()
        lock(&ctx)
        defer { unlock(&ctx) }
        for node in map.values {
            n.visited += 1
            guard node.pointee.direction == .original else { continue }
            let c = node.pointee.conn
            lockConnection(c, &ctx)
            let r = c.record(timeouts, now: now)
            unlockConnection(c, &ctx)
            body(r)
            n.listed += 1
        }
        return n
    }
}

extension GlobalLockTable {
    /// Under the one lock: the matching connections, then their removal.
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        var n = OperationCounts()
        lock(&ctx)
        defer { unlock(&ctx) }
        var doomed: [UnsafeMutablePointer<ConnNode>] = []
        for node in map.values {
            n.visited += 1
            if node.pointee.direction == .original && filter.matches(node.pointee.id) { doomed.append(node.pointee.conn) }
        }
        for c in doomed {
            removeLocked(c, reason: .other, now: now, &ctx)
            ctx.stats.countRemoval(.operation)
            n.removed += 1
        }
        return n
    }
}
