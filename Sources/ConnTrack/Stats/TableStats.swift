import Sync

/// Per-worker counters. Every field is incremented by the thread that owns
/// the context, without atomics, and merged when a run samples or ends.
/// Names follow `conntrack -S` where they mean the same thing.
public struct TableStats: Sendable {
    public var packets: UInt64 = 0
    public var lookups: UInt64 = 0
    /// conntrack -S `found`.
    public var found: UInt64 = 0
    public var notFound: UInt64 = 0
    /// conntrack -S `insert`: connections inserted (two tuples each).
    public var insert: UInt64 = 0
    /// Fixed variant: the re-check before insert found the tuple already there.
    public var insertClash: UInt64 = 0
    /// conntrack -S `insert_failed`: the reply tuple belonged to another connection.
    public var insertFailed: UInt64 = 0
    /// conntrack -S `drop`: insert refused at the connection limit.
    public var drop: UInt64 = 0
    /// conntrack -S `early_drop`.
    public var earlyDrop: UInt64 = 0
    /// conntrack -S `search_restart`: this design never restarts a walk; kept
    /// (and counted at 0) so the column lines up with Linux.
    public var searchRestart: UInt64 = 0
    /// conntrack -S `chaintoolong`: inserts refused because a chain was
    /// longer than the insert's limit (the `linux` design).
    public var chainTooLong: UInt64 = 0
    /// conntrack -S `invalid`: packets the tracker refused (the `linux`
    /// design's TCP state machine).
    public var invalid: UInt64 = 0
    /// The `null` design's fold of every packet's fields (so the read
    /// cannot be optimised away); 0 for every other design.
    public var packetDigest: UInt64 = 0
    public var created: UInt64 = 0
    public var removedInline: UInt64 = 0
    public var removedByReaper: UInt64 = 0
    public var removedOther: UInt64 = 0
    /// Removed by an operation on the running table (`--op flush`, `delete`).
    public var removedByOperation: UInt64 = 0
    /// Expired tuples left in place because the partner's bucket is lower.
    public var deferredByLockOrder: UInt64 = 0
    /// Tracker results of packets that reached the tracker.
    public var trackerResults: InlineArray<6, UInt64> = InlineArray(repeating: 0)
    public var trackerInit: UInt64 = 0
    public var chain = ChainHistogram()
    public var bucketLock = LockCounters()
    public var connLock = LockCounters()
    public var tableLock = LockCounters()

    public init() {}

    public var removed: UInt64 { removedInline &+ removedByReaper &+ removedOther &+ removedByOperation }
    /// Connections created less those removed (negative for a thread that
    /// removed what others created).
    public var createdLessRemoved: Int64 { Int64(created) &- Int64(removed) }

    public mutating func merge(_ o: TableStats) {
        packets &+= o.packets; lookups &+= o.lookups; found &+= o.found; notFound &+= o.notFound
        insert &+= o.insert; insertClash &+= o.insertClash; insertFailed &+= o.insertFailed
        drop &+= o.drop; earlyDrop &+= o.earlyDrop; searchRestart &+= o.searchRestart
        chainTooLong &+= o.chainTooLong; invalid &+= o.invalid
        packetDigest ^= o.packetDigest
        created &+= o.created; removedInline &+= o.removedInline; removedByReaper &+= o.removedByReaper
        removedOther &+= o.removedOther; removedByOperation &+= o.removedByOperation
        deferredByLockOrder &+= o.deferredByLockOrder
        for i in 0..<6 { trackerResults[i] &+= o.trackerResults[i] }
        trackerInit &+= o.trackerInit
        chain.merge(o.chain)
        bucketLock.merge(o.bucketLock); connLock.merge(o.connLock); tableLock.merge(o.tableLock)
    }
}
