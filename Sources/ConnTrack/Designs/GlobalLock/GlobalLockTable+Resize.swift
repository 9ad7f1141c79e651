// `--op resize:N` while packets flow.
extension GlobalLockTable {
    /// The map rebuilt for N entries under the one lock: what a Swift
    /// `Dictionary` does when it grows, asked for at a moment of the
    /// operator's choosing; every packet waits for it. A map never holds
    /// fewer slots than it has entries: below that, it is rebuilt at its
    /// entry count. Slots here are the map's capacity in entries (tuples).
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        precondition(slots >= 1, "resize to \(slots) entries")
        var n = OperationCounts()
        lock(&ctx)
        defer { unlock(&ctx) }
        n.slotsBefore = map.capacity
        var fresh = [TupleID: UnsafeMutablePointer<TupleNode>](minimumCapacity: max(slots, map.count))
        for (id, node) in map { fresh[id] = node }
        n.visited = fresh.count
        map = fresh
        n.slotsAfter = map.capacity
        return n
    }
}
