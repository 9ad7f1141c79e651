#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// One hash bucket: a mutex and an intrusive doubly linked list of tuples.

struct Bucket {
    /// The bucket lock (seed: `bucket.mu`). First field: stable address.
    var mutex: pthread_mutex_t
    /// protected by mutex
    var head: UnsafeMutablePointer<TupleNode>?
    /// protected by mutex: tuples in the list
    var length: Int
    /// protected by mutex: acquisitions that found the lock held
    var contended: UInt64
}

/// The bucket array and its size; replaced only under the table write lock.

struct BucketArray {
    var base: UnsafeMutablePointer<Bucket>
    var count: Int
}

/// gVisor's lock-ordered, bucketed connection table (July 2020), with the
/// behaviours of `Variant` selected by `TableRules`.
///
/// Lock order (declared in `LockRank`, checked by `LockTracker`):
///
///     table rwlock  <  bucket[i] < bucket[j] for i < j  <  connection  <  retire list
///
/// The rwlock is read-locked by every operation and write-locked only to
/// replace or snapshot the bucket array. A thread holding bucket i may
/// lock bucket j only when i < j; an expired connection whose partner tuple
/// sits in a lower bucket is reported expired and left for a later visit.
public final class BucketTable: ConnTrackTable, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "buckets",
            summary: "gVisor's 2020 table: a mutex and an intrusive list per bucket under a table rwlock (variants seed2020 and fixed)",
            hasHashSeed: true, slotName: "bucket", sizedByBuckets: true, variants: Variant.allCases, defaultVariant: .seed2020,
            faults: [.descendingLockOrder, .skipBucketLock, .recomputeNatPartner, .walkAfterRemove], connectionLimit: true, tracksConnections: true, incompleteSweepVariants: [.seed2020])
        t.lockOrderPairSelftest = lockOrderPairSelftest
        t.dataRacePairSelftest = dataRacePairSelftest
        t.duplicateIDVariants = Set(Variant.allCases.filter { !TableRules(variant: $0).uniqueTupleIDs })
        t.knobs = [.buckets("hash buckets", grid: [1024, 4096, 16384, 65536, 262144])]
        t.bytesPerConnection = MemoryLayout<ConnNode>.stride
        t.resizesWhileRunning = true
        return t
    }()

    /// The table lock (seed: `ConnTrack.mu`).
    let rw: UnsafeMutablePointer<pthread_rwlock_t>
    /// protected by rw (the array; each bucket's contents by its own mutex)
    let array: UnsafeMutablePointer<BucketArray>
    /// The array's size, for readers that hold no lock (the reaper's
    /// budget, reports). Written under the write lock, with `array`.
    let publishedCount: Atomic<Int>
    /// immutable
    public let seed: UInt32
    /// immutable
    public let rules: TableRules
    /// immutable
    public let timeouts: Timeouts
    /// immutable
    public let config: TableConfig
    /// `--max-connections` with early drop (counts only when set).
    let limit: ConnectionLimit
    /// `selftest data-race-pair` only (set before any other thread uses
    /// the table): called right after the skip-bucket-lock fault edited a
    /// partner's list without its lock, before anything else is released.
    var afterUnlockedPartnerEdit: (@Sendable () -> Void)?
    /// Memory of removed connections, freed once no thread can see it.
    let reclaimer: Reclaimer

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
        self.seed = config.hashSeed ?? UInt32.random(in: .min ... .max)
        self.rules = TableRules(variant: config.variant ?? .seed2020, faults: config.faults)
        self.timeouts = config.timeouts
        self.limit = ConnectionLimit(config.maxConnections)
        rw = .allocate(capacity: 1)
        rw.initialize(to: pthread_rwlock_t())
        PThread.initRWLock(rw)
        array = .allocate(capacity: 1)
        array.initialize(to: BucketArray(base: Self.makeBuckets(config.buckets), count: config.buckets))
        publishedCount = Atomic(config.buckets)
        // Injected faults can leave removed connections reachable: never
        // free memory during such a run (it is a detector test, not a soak).
        reclaimer = Reclaimer(enabled: config.faults.isEmpty)
    }

    static func makeBuckets(_ n: Int) -> UnsafeMutablePointer<Bucket> {
        let base = UnsafeMutablePointer<Bucket>.allocate(capacity: n)
        for i in 0..<n {
            (base + i).initialize(to: Bucket(mutex: pthread_mutex_t(), head: nil, length: 0, contended: 0))
            PThread.initMutex((base + i).pointer(to: \.mutex)!)
        }
        return base
    }

    deinit {
        // No other thread can reach the table now: free everything.
        let a = array.pointee
        // Collect first: a connection's reply tuple lives inside it and may
        // be visited after its original tuple.
        var conns = Set<UnsafeMutablePointer<ConnNode>>()
        for i in 0..<a.count {
            var t = a.base[i].head
            while let n = t {
                conns.insert(n.pointee.conn)
                t = n.pointee.next
            }
            PThread.destroyMutex((a.base + i).pointer(to: \.mutex)!)
        }
        // An injected fault can leave a retired connection linked: free
        // each connection exactly once.
        for c in reclaimer.takeAll() { conns.insert(c) }
        for c in conns { ConnNode.destroy(c) }
        a.base.deinitialize(count: a.count)
        a.base.deallocate()
        array.deallocate()
        PThread.destroyRWLock(rw)
        rw.deallocate()
    }

    public var hashSeed: UInt32? { seed }

    /// The variant this table runs.
    public var variant: Variant { config.variant ?? .seed2020 }

    /// Number of buckets. Without the table lock, a resize may change it
    /// right after (`--op resize`); under it, it is the array's size.
    public var bucketCount: Int { publishedCount.load(ordering: .relaxed) }

    /// A reaper pass budgets over buckets.
    public var sweepSlots: Int { bucketCount }

    // Reclamation is the quiescent-state `Reclaimer`.
    public func registerWorker() -> Int { reclaimer.register() }
    public func workerQuiescent(_ slot: Int) { reclaimer.quiescent(slot) }
    public func workerOffline(_ slot: Int) { reclaimer.offline(slot) }
    public func reclaim(_ ctx: inout WorkerContext) { reclaimer.collect(&ctx) }

    /// Bucket of a tuple (the seed's `ct.bucket`, minus its recursive read
    /// lock, which deadlocks once a writer queues). Preconditions: the table lock is held.
    @inline(__always)
    public func bucketIndex(_ id: TupleID) -> Int {
        JenkinsHash.bucket(id, seed: seed, count: array.pointee.count)
    }
}
