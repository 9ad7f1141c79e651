// Operations while packets flow (`--op`): the null design keeps nothing.
extension NullTable {
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        OperationCounts()
    }
}

extension NullTable {
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        OperationCounts()
    }
}

extension NullTable {
    /// Nothing to rehash.
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        OperationCounts()
    }
}
