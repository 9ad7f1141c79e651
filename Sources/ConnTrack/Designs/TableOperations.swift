/// What one operation on a running table did (`--op`): the entries it
/// visited and the connections it listed or removed.
public struct OperationCounts: Sendable, Equatable, Codable {
    /// Entries walked: tuples in chains, slots, map entries, as the design
    /// keeps them.
    public var visited = 0
    /// Connections handed to the caller.
    public var listed = 0
    /// Walks repeated because the structure moved under them (a cuckoo
    /// map's displacement, a seqlock's retry).
    public var retries = 0
    public init() {}
}

// Operations while packets flow. Each design walks with its own
// mechanics (what lock, for how long), so what an operation costs the
// packets is the design's. The caller runs on its own thread, registered
// with `registerWorker` and quiescent between calls.
extension ConnTrackTable {
    /// `conntrack -L` while workers run: every connection live for the
    /// whole walk is listed exactly once (at its original tuple), with its
    /// state read under its lock; connections created or removed during
    /// the walk may or may not be. nil: the design cannot list while
    /// running (a plugin without the entry).
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        nil
    }
}
