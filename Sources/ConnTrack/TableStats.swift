/// Acquisitions of one kind of lock, and how many found it held.
public struct LockCounters: Sendable, Codable, Equatable {
    public var acquisitions: UInt64 = 0
    public var contended: UInt64 = 0
    public var waitNanos: UInt64 = 0
    public init() {}

    public mutating func merge(_ o: LockCounters) {
        acquisitions &+= o.acquisitions; contended &+= o.contended; waitNanos &+= o.waitNanos
    }
}

/// Exact histogram of chain lengths walked per lookup, 0…62 exactly and
/// 63 for "63 or more", plus the true maximum.
public struct ChainHistogram: Sendable {
    public static let slots = 64
    public var counts: InlineArray<64, UInt64> = InlineArray(repeating: 0)
    public var max: Int = 0
    public var total: UInt64 = 0
    public init() {}

    @inline(__always)
    public mutating func record(_ length: Int) {
        counts[Swift.min(length, 63)] &+= 1
        total &+= UInt64(length)
        if length > max { max = length }
    }

    public mutating func merge(_ o: ChainHistogram) {
        for i in 0..<64 { counts[i] &+= o.counts[i] }
        total &+= o.total
        max = Swift.max(max, o.max)
    }

    public var samples: UInt64 { (0..<64).reduce(0) { $0 &+ counts[$1] } }

    /// Smallest length L such that at least `p` percent of lookups walked ≤ L.
    public func percentile(_ p: Double) -> Int {
        let n = samples
        if n == 0 { return 0 }
        let want = UInt64((Double(n) * p / 100).rounded(.up))
        var acc: UInt64 = 0
        for i in 0..<64 {
            acc &+= counts[i]
            if acc >= Swift.max(want, 1) { return i == 63 ? max : i }
        }
        return max
    }
}

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
    public var created: UInt64 = 0
    public var removedInline: UInt64 = 0
    public var removedByReaper: UInt64 = 0
    public var removedOther: UInt64 = 0
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

    public var removed: UInt64 { removedInline &+ removedByReaper &+ removedOther }

    public mutating func merge(_ o: TableStats) {
        packets &+= o.packets; lookups &+= o.lookups; found &+= o.found; notFound &+= o.notFound
        insert &+= o.insert; insertClash &+= o.insertClash; insertFailed &+= o.insertFailed
        drop &+= o.drop; earlyDrop &+= o.earlyDrop; searchRestart &+= o.searchRestart
        created &+= o.created; removedInline &+= o.removedInline; removedByReaper &+= o.removedByReaper
        removedOther &+= o.removedOther; deferredByLockOrder &+= o.deferredByLockOrder
        for i in 0..<6 { trackerResults[i] &+= o.trackerResults[i] }
        trackerInit &+= o.trackerInit
        chain.merge(o.chain)
        bucketLock.merge(o.bucketLock); connLock.merge(o.connLock); tableLock.merge(o.tableLock)
    }

    public static func sameCounts(_ a: TableStats, _ b: TableStats) -> Bool {
        a.packets == b.packets && a.lookups == b.lookups && a.found == b.found && a.notFound == b.notFound
            && a.insert == b.insert && a.insertClash == b.insertClash && a.insertFailed == b.insertFailed
            && a.drop == b.drop && a.earlyDrop == b.earlyDrop && a.created == b.created
            && a.removedInline == b.removedInline && a.removedByReaper == b.removedByReaper
            && a.deferredByLockOrder == b.deferredByLockOrder && a.chain == b.chain
            && (0..<6).allSatisfy { a.trackerResults[$0] == b.trackerResults[$0] }
    }
}

/// Everything a thread carries into the table: its counters and its lock
/// tracker. Passed `inout`, so the packet path touches no shared counters
/// and needs no thread-local storage.
public struct WorkerContext {
    public var stats = TableStats()
    public var locks: LockTracker

    public init(name: String, checkLockOrder: Bool = LockTracker.enabledByDefault,
                action: LockTracker.Action = .record) {
        locks = LockTracker(enabled: checkLockOrder, action: action, threadName: name)
    }

    /// Publishes progress and lock waits for the deadlock watchdog.
    public var watch: WatchSlot? {
        get { locks.watch }
        set { locks.watch = newValue }
    }
}

extension ChainHistogram: Equatable {
    public static func == (a: ChainHistogram, b: ChainHistogram) -> Bool {
        a.max == b.max && a.total == b.total && (0..<64).allSatisfy { a.counts[$0] == b.counts[$0] }
    }
}
