#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPrefetch
import Sync
import struct Synchronization.Atomic

/// A connection table built the way current kernels and switches build
/// them, behind the same interface as the 2020 design:
///
/// - **Index:** 64-byte buckets, one cache line each: a word of version
///   and overflow link, then 7 slots of (16-bit tag, slot kind, 32-bit
///   entry index). Hashing is symmetric, so a connection whose reply is its
///   reversed original (every non-NAT one) takes one slot that matches both
///   directions; a NAT connection takes two. A tuple lives in its home
///   bucket or the overflow chain behind it and never moves, so where a
///   tuple sits depends only on the set of tuples.
/// - **Entries:** 96 bytes (72 with `--ipv4-only`) in a pool of 2 MiB segments, by index, handed
///   out through per-worker caches: no allocation per connection, no
///   reference counting.
/// - **Lookups take no lock.** A reader loads the home bucket's version
///   (even: stable), scans tags, compares the key in the entry, and checks
///   the version again; a change means a writer was there, and the lookup
///   restarts (counted as `search_restart`, as Linux does). Entries are
///   reused only after every worker passed a quiescent point, so a key
///   read without a lock is never a reused entry's.
/// - **Writers** take striped pthread mutexes (1,024 stripes at most),
///   several in ascending order (rank: bucket(stripe)), and make the home
///   bucket's version odd while they change its chain.
/// - **Per connection:** `lastUsed` is written only when it moves; UDP in
///   its steady state takes no lock; TCP takes the entry's spinlock
///   (the tracker moves sequence numbers on nearly every segment).
/// - **Garbage collection is off the packet path:** a lookup skips an
///   expired entry (and removes it when its own tuple needs the place, as
///   `fixed`'s walk would); the reaper sweeps slices of the index.
/// - **Resize** (`--op resize:N`): a new index is built beside the old one
///   while every stripe is drained; lookups go on in the old one, which is
///   not written meanwhile, and move to the new one when it is published.
///
/// Lock order: all-stripes (a resize; rank table)  <  stripe[i] < stripe[j] for i < j  <  entry  <  entry pool  <  retire list.
public final class FastTable: ConnTrackTable, ClaimableStripes, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "fast",
            summary: "a modern table: lock-free lookups over 64-byte tagged buckets (seqlock), striped writer locks, pooled 96-byte entries, batched prefetching lookups, sweep off the packet path",
            hasHashSeed: true, slotName: "slice", sizedByBuckets: false, variants: [], defaultVariant: nil,
            faults: [.descendingLockOrder, .skipEntryLock], connectionLimit: true, tracksConnections: true, incompleteSweepVariants: [])
        t.batchedLookups = true
        t.lockOrderPairSelftest = lockOrderPairSelftest
        t.dataRacePairSelftest = dataRacePairSelftest
        t.sizedByCapacity = true
        t.ipv4OnlyLayout = true
        t.knobs = [.buckets("reaper slices the index is swept in", grid: [64, 1024, 16384]),
                   .lookupBatch(default: FastTable.defaultLookupBatch, grid: [1, 4, 16, 32])]
        // Linux's collector: whole sweeps in budgeted passes, the next one
        // after the average lifetime left (1–60 s).
        t.defaultPolicy = "linux2022"
        // An entry plus its share of the index: one or two 8-byte slots in
        // buckets filled to 2–4 slots of 7 (16–32 bytes per slot).
        t.bytesPerConnection = EntryLayout.wide.stride + 32
        t.resizesWhileRunning = true
        return t
    }()

    /// Slots per bucket (the bucket's first word is version and link).
    static let slotsPerBucket = 7
    static let defaultLookupBatch = 16
    static let defaultExpected = 65_536
    static let maxStripes = 1024

    /// immutable
    public let config: TableConfig
    /// immutable
    let timeouts: Timeouts
    /// immutable: the distinct timeouts of `timeouts`; an entry keeps the
    /// index of its state's (its timeout class) in its flags.
    let timeoutValues: InlineArray<16, Int64>
    /// immutable
    let timeoutCount: Int
    /// immutable: the seed the hash keys are drawn from
    public let seed: UInt32
    /// immutable: hash keys
    let k0: UInt64, k1: UInt64, k2: UInt64, k3: UInt64
    /// The index packets, walks and writers use (`FastIndex`). A resize
    /// replaces it under `allLock` with every stripe drained; a writer
    /// checks after taking its stripes that it is still the one it hashed
    /// into (`lockHomes`). A replaced index stays mapped until no thread can
    /// be reading it (`resizeWhileRunning`).
    let current: Atomic<UnsafeMutablePointer<FastIndex>>
    /// Set while a resize holds the stripes: a first stripe taken then is
    /// let go and taken again behind `allLock` (Linux's `nf_conntrack_locks_all`).
    let locksAll = Atomic<Bool>(false)
    /// The all-stripes lock a resize holds (rank: table, before every stripe).
    let allLock: UnsafeMutablePointer<pthread_mutex_t>
    /// Reaper passes, scans and summaries reading an index right now: a
    /// replaced index is unmapped only after this was seen at zero.
    let walkers = Atomic<Int>(0)
    /// protected by allLock: indexes replaced while recycling was off (an
    /// injected fault), unmapped with the table.
    var keptIndexes: [UnsafeMutablePointer<FastIndex>] = []
    /// immutable: stripe count (a power of two)
    let stripeCount: Int
    /// The stripe locks, one per cache line.
    let stripes: UnsafeMutablePointer<Stripe>
    /// immutable: packets hashed and prefetched together
    let lookupBatch: Int
    /// immutable: reaper slices (`--buckets`)
    let slices: Int
    /// immutable: the injected descending-lock-order fault
    let descendingLocks: Bool
    /// immutable: the injected skip-entry-lock fault
    let skipEntryLock: Bool
    /// `--max-connections` with early drop (counts only when set: a shared
    /// counter per insert is what this design avoids).
    let limit: ConnectionLimit
    let pool: EntryPool
    /// immutable: `--ipv4-only`: compact slots, a denser index, IPv6
    /// packets not tracked (counted in `drop`)
    let ipv4Only: Bool
    /// immutable: `FastEntry.Flags.compact` when the slots are compact
    let compactFlag: UInt32
    let reclaimer: IndexReclaimer
    /// immutable: tells this table's entries from another's in a worker's cache
    let generation: UInt64

    static let generations = Atomic<UInt64>(0)

    typealias Stripe = LockStripe

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
        timeouts = config.timeouts
        (timeoutValues, timeoutCount) = Self.distinctTimeouts(config.timeouts)
        seed = config.hashSeed ?? UInt32.random(in: .min ... .max)
        var keys = SplitMix64(seed: UInt64(seed) &+ 0x5851_F42D_4C95_7F2D)
        k0 = keys.next(); k1 = keys.next(); k2 = keys.next(); k3 = keys.next()
        assert(EntryLayout.wide.stride == 96 && EntryLayout.compact.stride == 72 && MemoryLayout<FastEntry>.size == 36,
               "a slot is 96 (compact: 72) bytes")
        ipv4Only = config.ipv4Only
        compactFlag = config.ipv4Only ? FastEntry.Flags.compact : 0
        let (home, overflow) = Self.size(config)
        current = Atomic(FastIndex.make(home: home, overflow: overflow))
        // Fixed for the table's life: a resize keeps the stripes, so a home
        // bucket's stripe is its number modulo this in every index.
        stripeCount = min(home, Self.maxStripes)
        allLock = .allocate(capacity: 1)
        allLock.initialize(to: pthread_mutex_t())
        PThread.initMutex(allLock)
        stripes = .allocate(capacity: stripeCount)
        for i in 0..<stripeCount {
            (stripes + i).initialize(to: Stripe(mutex: pthread_mutex_t(), contended: 0))
            PThread.initMutex((stripes + i).pointer(to: \.mutex)!)
        }
        lookupBatch = config.lookupBatch ?? Self.defaultLookupBatch
        slices = config.buckets
        descendingLocks = config.faults.contains(.descendingLockOrder)
        skipEntryLock = config.faults.contains(.skipEntryLock)
        limit = ConnectionLimit(config.maxConnections)
        pool = EntryPool(layout: config.ipv4Only ? .compact : .wide)
        reclaimer = IndexReclaimer()
        // An injected fault can corrupt an entry: never recycle one then.
        reclaimer.enabled = config.faults.isEmpty
        generation = Self.generations.add(1, ordering: .relaxed).newValue
    }

    /// Home buckets for the expected connections at 2–4 slots of 7 (a
    /// power of two, and at least one per reaper slice), and room for four
    /// times as many overflow buckets (reserved, not touched), so the
    /// index holds about 9 times the expected connections before it is
    /// full; a connection limit is expected to be reached.
    ///
    /// `--ipv4-only` halves the home buckets (4–8 slots of 7: denser, with
    /// more chains of two buckets), which with its 72-byte slots keeps a
    /// connection at 96 bytes or less.
    static func size(_ c: TableConfig) -> (home: Int, overflow: Int) {
        size(expected: c.maxConnections ?? c.expectedConnections ?? defaultExpected, c)
    }

    /// `size` for `expected` connections (a resize's N).
    static func size(expected: Int, _ c: TableConfig) -> (home: Int, overflow: Int) {
        let perBucket = c.ipv4Only ? 8 : 4
        var home = 64
        while home * perBucket < expected { home <<= 1 }
        while home < c.buckets { home <<= 1 }
        return (home, overflowBuckets(home: home))
    }

    /// Overflow buckets reserved behind `home` home buckets.
    static func overflowBuckets(home: Int) -> Int { 4 * home + 64 }

    /// Every timeout the table can give a connection, once each.
    static func distinctTimeouts(_ t: Timeouts) -> (InlineArray<16, Int64>, Int) {
        var v = InlineArray<16, Int64>(repeating: 0)
        var n = 0
        for x in [t.established, t.other, t.synSent, t.finWait, t.closeWait, t.lastAck, t.timeWait, t.close,
                  t.udp, t.udpStream] where !(0..<n).contains(where: { v[$0] == x }) {
            v[n] = x
            n += 1
        }
        return (v, n)
    }

    /// Nanoseconds until entry e times out (negative: expired), from its
    /// `lastUsed` and timeout class: no lock.
    @inline(__always)
    func remaining(_ e: UnsafeMutablePointer<FastEntry>, now: Int64) -> Int64 {
        let c = Int((e.flagsWord.pointee.load(ordering: .relaxed) & FastEntry.Flags.timeoutMask) &>> FastEntry.Flags.timeoutShift)
        return e.lastUsedWord.pointee.load(ordering: .relaxed) &+ timeoutValues[c] &- now
    }

    /// Sets entry e's timeout class from its tracker state (`fixed`'s
    /// timeout table). Preconditions: its lock is held, or it is unpublished.
    @inline(__always)
    func refreshTimeoutClass(_ e: UnsafeMutablePointer<FastEntry>) {
        let t = e.computedTimeout(timeouts)
        var c: UInt32 = 0
        while c < UInt32(timeoutCount) && timeoutValues[Int(c)] != t { c += 1 }
        precondition(c < UInt32(timeoutCount), "timeout \(t) is not one of the table's")
        let f = e.flagsWord.pointee.load(ordering: .relaxed)
        let g = (f & ~FastEntry.Flags.timeoutMask) | c << FastEntry.Flags.timeoutShift
        if g != f { e.flagsWord.pointee.store(g, ordering: .releasing) }
    }

    deinit {
        FastIndex.destroy(current.load(ordering: .acquiring))
        for p in keptIndexes { FastIndex.destroy(p) }
        PThread.destroyMutex(allLock)
        allLock.deallocate()
        for i in 0..<stripeCount { PThread.destroyMutex((stripes + i).pointer(to: \.mutex)!) }
        stripes.deinitialize(count: stripeCount)
        stripes.deallocate()
    }

    public var hashSeed: UInt32? { seed }

    /// A reaper pass budgets over slices of the index (`--buckets` of them).
    public var sweepSlots: Int { slices }

    public func registerWorker() -> Int { reclaimer.epochs.register() }
    public func workerQuiescent(_ slot: Int) { reclaimer.epochs.quiescent(slot) }
    public func workerOffline(_ slot: Int) { reclaimer.epochs.offline(slot) }
    public func reclaim(_ ctx: inout WorkerContext) { reclaimer.collect(into: pool, &ctx) }

    // MARK: Hashing

    /// 64×64→128-bit multiply, folded.
    @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    /// One endpoint (address and port) under the table's keys.
    @inline(__always)
    func endpoint(_ a: IPAddress, _ port: UInt16) -> UInt64 {
        Self.mum(a.hi ^ k0, a.lo ^ k1 ^ (UInt64(port) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// The symmetric hash of a tuple: the two endpoints are combined by
    /// addition, so a tuple and its reverse hash alike. Bucket from the low
    /// bits, tag from the top 16.
    @inline(__always)
    func hash(_ id: TupleID) -> UInt64 {
        let e = endpoint(id.srcAddr, id.srcPort) &+ endpoint(id.dstAddr, id.dstPort)
        return Self.mum(e ^ k2, (UInt64(id.transProto.rawValue) << 16 | UInt64(id.netProto.rawValue)) ^ k3)
    }

    @inline(__always) static func tag(_ h: UInt64) -> UInt64 { h &>> 48 }
    @inline(__always) func stripe(ofHome b: Int) -> Int { b & (stripeCount - 1) }

    /// The stripe lock that guards a tuple's slot (diagnostics, self-tests).
    public func stripeOf(_ id: TupleID) -> Int { stripe(ofHome: index.home(hash(id))) }

    // MARK: The index

    /// The current index, for one lookup group, walk or check: every
    /// bucket number taken from it belongs to it.
    @inline(__always) var index: FastIndex { current.load(ordering: .acquiring).pointee }

    /// A slot's value: tag, kind, entry index + 1 (0 is an empty slot).
    @inline(__always)
    static func slot(entry: UInt32, kind: SlotKind, tag: UInt64) -> UInt64 {
        tag << 48 | UInt64(kind.rawValue) << 32 | UInt64(entry &+ 1)
    }

    @inline(__always) static func entryIndex(_ s: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: s) &- 1 }
    @inline(__always) static func kind(_ s: UInt64) -> SlotKind {
        SlotKind(rawValue: UInt8(truncatingIfNeeded: s &>> 32) & 3).unsafelyUnwrapped
    }

    // MARK: Locks

    /// A resize holds the stripes (`ClaimableStripes`).
    var stripesClaimed: Bool { locksAll.load(ordering: .acquiring) }

    /// Locks the stripes of two home buckets in ascending order (once when
    /// they share one); returns them for `unlockStripes`. `descending` is
    /// the injected fault's order (an insert only, as in the bucket table).
    @inline(__always)
    func lockStripes(_ b1: Int, _ b2: Int, descending: Bool = false, _ ctx: inout WorkerContext) -> (Int, Int) {
        let s1 = stripe(ofHome: b1), s2 = stripe(ofHome: b2)
        let lo = min(s1, s2), hi = max(s1, s2)
        let (first, second) = descending ? (hi, lo) : (lo, hi)
        lockStripe(first, &ctx)
        if second != first { lockStripePlain(second, &ctx) }
        return (first, second)
    }

    @inline(__always)
    func unlockStripes(_ s: (Int, Int), _ ctx: inout WorkerContext) {
        if s.1 != s.0 { unlockStripe(s.1, &ctx) }
        unlockStripe(s.0, &ctx)
    }

    /// What a writer holds: the index it writes, its home buckets for two
    /// hashes there and the stripes taken.
    struct LockedHomes {
        let ix: FastIndex
        let b1: Int
        let b2: Int
        let held: (Int, Int)
    }

    /// The home buckets of hashes h1 and h2 in the current index, their
    /// stripes taken; all of it again when a resize replaced the index in
    /// between (`LinuxTable.lockBuckets`). While a resize runs, this parks
    /// behind the all-stripes lock. Preconditions: no stripe is held.
    @inline(__always)
    func lockHomes(_ h1: UInt64, _ h2: UInt64, descending: Bool = false, _ ctx: inout WorkerContext) -> LockedHomes {
        while true {
            let p = current.load(ordering: .acquiring)
            let ix = p.pointee
            let b1 = ix.home(h1), b2 = ix.home(h2)
            let held = lockStripes(b1, b2, descending: descending, &ctx)
            if current.load(ordering: .acquiring) == p { return LockedHomes(ix: ix, b1: b1, b2: b2, held: held) }
            unlockStripes(held, &ctx)
        }
    }

    /// Takes an entry's spinlock (rank: connection).
    @inline(__always)
    func lockEntry(_ e: UnsafeMutablePointer<FastEntry>, _ ctx: inout WorkerContext,
                   file: StaticString = #fileID, line: UInt = #line) {
        e.rankedLock.lock(&ctx.locks, counting: &ctx.stats.connLock, file: file, line: line)
    }

    /// Preconditions: this thread holds e's lock (taken by `lockEntry`).
    @inline(__always)
    func unlockEntry(_ e: UnsafeMutablePointer<FastEntry>, _ ctx: inout WorkerContext) {
        e.rankedLock.unlock(&ctx.locks)
    }
}

/// What a slot matches.
enum SlotKind: UInt8 {
    /// The connection's original tuple and its reverse (symmetric layout).
    case both = 1
    /// The original tuple only.
    case original = 2
    /// The reply tuple only.
    case reply = 3
}
