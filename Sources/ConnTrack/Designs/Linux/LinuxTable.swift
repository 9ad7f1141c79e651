#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// The structure of Linux's `nf_conntrack` (6.x) behind the harness's
/// interface; the facts it follows, file by file, and every difference are
/// in docs/linux-design.md.
///
/// - **Table:** one array of chain heads in the manner of `hlist_nulls`:
///   every chain ends in a marker that names its bucket. A connection sits
///   in two chains, by its original and its reply tuple.
/// - **Lookups take no lock:** they walk a chain under quiescent-state
///   reclamation (the stand-in for RCU), skip and remove expired entries,
///   restart when the end marker names another bucket (`search_restart`),
///   take a reference and check the key again.
/// - **Writers** take 1,024 striped mutexes (`CONNTRACK_LOCKS`, bucket mod
///   1,024), two at once in ascending order (`nf_conntrack_double_lock`).
/// - **Insert** (`__nf_conntrack_confirm`) checks both chains for a clash
///   and against a random chain-length limit under both stripes; at the
///   connection limit, `early_drop` evicts unassured connections.
/// - **Tracker:** Linux's TCP state machine (`LinuxTCPConntrack`) and UDP
///   stream rule, Linux's timeouts; the garbage collector is the
///   `linux2022` policy.
///
/// - **Resize** (`nf_conntrack_hash_resize`, `--op resize:N`): under the
///   all-stripes lock, entries move to a new array while lookups go on;
///   writers check a generation count after taking their stripes.
///
/// Lock order: all-stripes lock (rank: table) < stripe[i] < stripe[j] for
/// i < j  <  connection  <  retire list.
public final class LinuxTable: ConnTrackTable, ClaimableStripes, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "linux",
            summary: "Linux nf_conntrack's structure: hlist_nulls chains with lock-free lookups, 1,024 striped locks taken in pairs, clash and chain-length checks on insert, early drop, the Linux TCP state machine and gc_worker's schedule",
            hasHashSeed: true, slotName: "bucket", sizedByBuckets: true, variants: [], defaultVariant: nil,
            faults: [.descendingLockOrder, .skipBucketLock], connectionLimit: true, tracksConnections: true,
            incompleteSweepVariants: [])
        t.defaultPolicy = "linux2022"
        t.sizedByCapacity = true
        t.lockOrderPairSelftest = lockOrderPairSelftest
        t.dataRacePairSelftest = dataRacePairSelftest
        t.knobs = [Knob("buckets", summary: "hash buckets (hashsize; rounded up to a multiple of 512)",
                        range: 1...(1 << 28), grid: [1024, 16384, 65536, 262144],
                        get: { $0.buckets }, set: { $0.buckets = $1; $0.bucketsGiven = true })]
        t.bytesPerConnection = LinuxConn.Layout.stride + 16
        t.resizesWhileRunning = true
        return t
    }()

    /// Linux's `CONNTRACK_LOCKS`.
    static let stripeCount = 1024
    /// `nf_ct_alloc_hashtable` rounds the size up to a page of heads.
    static let headsPerPage = 512
    /// `MIN_CHAINLEN` and `MAX_CHAINLEN`: an insert's chain limit is
    /// MIN + a random number below MAX.
    static let minChain = 8
    static let maxChainRandom = 24

    /// immutable
    public let config: TableConfig
    /// immutable
    let timeouts: LinuxTimeouts
    /// immutable
    public let seed: UInt32
    /// The hash table (`nf_conntrack_hash` and `nf_conntrack_htable_size`,
    /// read together as `nf_conntrack_get_ht` does): read without a lock,
    /// replaced by a resize under `allLock`.
    let current: Atomic<UnsafeMutablePointer<LinuxHash>>
    /// `nf_conntrack_generation`: odd while a resize moves entries. A writer
    /// that hashed before taking its stripes checks it after, and starts
    /// again when it moved (`nf_conntrack_double_lock`).
    let generation = Atomic<UInt>(0)
    /// `nf_conntrack_locks_all`: a resize holds or is draining the stripes;
    /// a first stripe taken then is retaken behind `allLock`.
    let locksAll = Atomic<Bool>(false)
    /// `nf_conntrack_locks_all_lock` (rank: table).
    let allLock: UnsafeMutablePointer<pthread_mutex_t>
    /// Tables replaced by a resize while reclamation is off (an injected
    /// fault): freed with the table. Touched only by the operation thread.
    var keptHashes: [UnsafeMutablePointer<LinuxHash>] = []
    /// The stripe locks, one per cache line.
    let stripes: UnsafeMutablePointer<Stripe>
    /// The connection count and limit (`cnet->count`, `nf_conntrack_max`).
    let limit: ConnectionLimit
    let reclaimer: LinuxReclaimer
    /// immutable: the injected faults
    let descendingLocks: Bool
    let skipPartnerStripe: Bool

    typealias Stripe = LockStripe

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
        timeouts = LinuxTimeouts(config.timeouts)
        seed = config.hashSeed ?? UInt32.random(in: .min ... .max)
        let size = Self.size(config)
        current = Atomic(LinuxHash.make(size: size))
        allLock = .allocate(capacity: 1)
        allLock.initialize(to: pthread_mutex_t())
        PThread.initMutex(allLock)
        stripes = .allocate(capacity: Self.stripeCount)
        for i in 0..<Self.stripeCount {
            (stripes + i).initialize(to: Stripe(mutex: pthread_mutex_t(), contended: 0))
            PThread.initMutex((stripes + i).pointer(to: \.mutex)!)
        }
        limit = ConnectionLimit(config.maxConnections ?? size)
        descendingLocks = config.faults.contains(.descendingLockOrder)
        skipPartnerStripe = config.faults.contains(.skipBucketLock)
        // A fault can leave a removed connection linked: free nothing then.
        reclaimer = LinuxReclaimer(enabled: config.faults.isEmpty)
    }

    deinit {
        var all = Set<UnsafeMutableRawPointer>()
        let heads = ht.heads
        for b in 0..<ht.size {
            var v = heads[b].load(ordering: .relaxed)
            var hops = 0
            while v & 1 == 0 && hops < 1 << 24 {
                let c = LinuxConn(link: v)
                all.insert(c.base)
                v = c.next(LinuxConn.direction(v)).pointee.load(ordering: .relaxed)
                hops += 1
            }
        }
        for c in reclaimer.takeAll() { all.insert(c.base) }
        for p in all { LinuxConn.destroy(LinuxConn(p)) }
        LinuxHash.destroy(current.load(ordering: .relaxed))
        for h in keptHashes { LinuxHash.destroy(h) }
        PThread.destroyMutex(allLock)
        allLock.deallocate()
        for i in 0..<Self.stripeCount { PThread.destroyMutex((stripes + i).pointer(to: \.mutex)!) }
        stripes.deinitialize(count: Self.stripeCount)
        stripes.deallocate()
    }

    // MARK: Size (`nf_conntrack_init_start`)

    /// The kernel's default bucket count for a machine with `memory` bytes:
    /// 1/16384 of memory in 8-byte heads, 65,536 above 1 GiB, 262,144
    /// above 4 GiB (64-bit), at least 1,024.
    public static func kernelDefaultBuckets(memory: Int) -> Int {
        let gib = 1 << 30
        var n = memory / 16384 / 8
        if memory > 4 * gib { n = 262_144 } else if memory > gib { n = 65_536 }
        return max(n, 1024)
    }

    /// This machine's physical memory.
    static var physicalMemory: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Buckets for a configuration: `--buckets` when given, else the
    /// kernel's default, raised to the connections the run expects (its
    /// flows, or `--capacity`); rounded up to a multiple of 512, as the
    /// kernel's allocation rounds to a page of heads.
    public static func size(_ c: TableConfig) -> Int {
        var n = c.buckets
        if !c.bucketsGiven {
            n = max(kernelDefaultBuckets(memory: physicalMemory), c.expectedConnections ?? 0)
        }
        return roundedToPage(n)
    }

    /// `nf_ct_alloc_hashtable` rounds a size up to a page of heads.
    static func roundedToPage(_ n: Int) -> Int { (n + headsPerPage - 1) / headsPerPage * headsPerPage }

    public var hashSeed: UInt32? { seed }

    /// The current hash table (`nf_conntrack_get_ht`): heads and size of
    /// one table, whatever a resize does meanwhile.
    @inline(__always)
    var ht: LinuxHash { current.load(ordering: .acquiring).pointee }

    /// Number of buckets now (`nf_conntrack_htable_size`).
    public var bucketCount: Int { ht.size }

    /// A reaper pass budgets over buckets (as `gc_worker` walks them).
    public var sweepSlots: Int { bucketCount }

    // Reclamation: the quiescent-state stand-in for RCU.
    public func registerWorker() -> Int { reclaimer.epochs.register() }
    public func workerQuiescent(_ slot: Int) { reclaimer.epochs.quiescent(slot) }
    public func workerOffline(_ slot: Int) { reclaimer.epochs.offline(slot) }
    public func reclaim(_ ctx: inout WorkerContext) { reclaimer.collect(&ctx) }

    // MARK: Hashing

    /// The bucket of a tuple: a 32-bit hash scaled to the table
    /// (`reciprocal_scale`, as `scale_hash` does).
    @inline(__always)
    public func bucket(_ id: TupleID) -> Int { bucket(id, size: bucketCount) }

    @inline(__always)
    func bucket(_ id: TupleID, size: Int) -> Int { Self.scale(hash(id), size: size) }

    /// A tuple's 32-bit hash (`hash_conntrack_raw`), before it is scaled.
    @inline(__always)
    func hash(_ id: TupleID) -> UInt32 { JenkinsHash.hash(id, seed: seed) }

    /// `scale_hash`: a tuple's 32-bit hash onto a table of `size` buckets.
    @inline(__always)
    static func scale(_ hash: UInt32, size: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(hash) &* UInt64(size)) &>> 32)
    }

    /// The stripe guarding bucket b.
    @inline(__always) static func stripe(_ b: Int) -> Int { b & (stripeCount - 1) }

    /// The stripe of a tuple's bucket (self-tests, diagnostics).
    public func stripeOf(_ id: TupleID) -> Int { Self.stripe(bucket(id)) }

    // MARK: Locks

    /// `nf_conntrack_locks_all` (`ClaimableStripes`).
    var stripesClaimed: Bool { locksAll.load(ordering: .acquiring) }

    /// `nf_conntrack_double_lock`: the stripes of buckets b1 and b2, lower
    /// first (once when they share one). `descending` is the injected
    /// fault's order; `partner: false` is the skip fault (only b1's).
    /// Returns the stripes taken, for `doubleUnlock`.
    @inline(__always)
    func doubleLock(_ b1: Int, _ b2: Int, descending: Bool = false, partner: Bool = true,
                    _ ctx: inout WorkerContext) -> (Int, Int) {
        let s1 = Self.stripe(b1), s2 = partner ? Self.stripe(b2) : s1
        let (first, second) = descending ? (max(s1, s2), min(s1, s2)) : (min(s1, s2), max(s1, s2))
        lockStripe(first, &ctx)
        if second != first { lockStripePlain(second, &ctx) }
        return (first, second)
    }

    /// Buckets locked for a writer: the table they belong to, the buckets
    /// of its two hashes and the stripes held.
    struct LockedBuckets {
        let table: LinuxHash
        let b1: Int
        let b2: Int
        let held: (Int, Int)
    }

    /// `nf_conntrack_double_lock` as its callers loop on it: the buckets of
    /// hashes h1 and h2 in the current table, their stripes taken, and all
    /// of it again when a resize ran in between (the generation moved).
    /// While a resize moves entries this waits behind the all-stripes lock.
    /// Preconditions: no stripe is held.
    @inline(__always)
    func lockBuckets(_ h1: UInt32, _ h2: UInt32, descending: Bool = false, partner: Bool = true,
                     _ ctx: inout WorkerContext) -> LockedBuckets {
        while true {
            let seq = generation.load(ordering: .acquiring)
            if seq & 1 != 0 { waitForResize(&ctx); continue }
            let t = ht
            let b1 = Self.scale(h1, size: t.size), b2 = Self.scale(h2, size: t.size)
            let held = doubleLock(b1, b2, descending: descending, partner: partner, &ctx)
            if generation.load(ordering: .acquiring) == seq { return LockedBuckets(table: t, b1: b1, b2: b2, held: held) }
            doubleUnlock(held, &ctx)
        }
    }

    /// Parks until the resize in progress has let go of the stripes.
    @inline(never)
    func waitForResize(_ ctx: inout WorkerContext) {
        lockAll(&ctx)
        unlockAll(&ctx)
    }

    @inline(__always)
    func doubleUnlock(_ s: (Int, Int), _ ctx: inout WorkerContext) {
        if s.1 != s.0 { unlockStripe(s.1, &ctx) }
        unlockStripe(s.0, &ctx)
    }

    /// The connection lock (`ct->lock`).
    @inline(__always)
    func connLock(_ c: LinuxConn) -> RankedLock<PThreadMutexRef> {
        RankedLock(PThreadMutexRef(c.mutex), rank: .connection)
    }

    @inline(__always)
    func lockConn(_ c: LinuxConn, _ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        connLock(c).lock(&ctx.locks, counting: &ctx.stats.connLock, file: file, line: line)
    }

    @inline(__always)
    func unlockConn(_ c: LinuxConn, _ ctx: inout WorkerContext) { connLock(c).unlock(&ctx.locks) }
}

/// One hash table: its chain heads (`hlist_nulls_head`, a link word each,
/// written under the bucket's stripe lock and read without a lock) and
/// their number. Immutable once published; a resize makes a new one.
struct LinuxHash {
    let heads: UnsafeMutablePointer<Atomic<UInt>>
    let size: Int

    /// A table of empty chains, each ending in its own bucket's marker.
    static func make(size: Int) -> UnsafeMutablePointer<LinuxHash> {
        let heads = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: size)
        for b in 0..<size { (heads + b).initialize(to: Atomic(UInt(b) << 1 | 1)) }
        let p = UnsafeMutablePointer<LinuxHash>.allocate(capacity: 1)
        p.initialize(to: LinuxHash(heads: heads, size: size))
        return p
    }

    /// Preconditions: no thread can reach it.
    static func destroy(_ p: UnsafeMutablePointer<LinuxHash>) {
        p.pointee.heads.deinitialize(count: p.pointee.size)
        p.pointee.heads.deallocate()
        p.deinitialize(count: 1)
        p.deallocate()
    }
}
