#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// The `fast` design's entries: 2 MiB segments (one huge page, aligned to
/// its size) of 21,845 96-byte slots each (29,127 72-byte compact ones),
/// allocated as the table grows
/// and never moved or freed before the table, so an index stays valid for
/// the table's lifetime and a new connection allocates nothing (its entry
/// comes from the worker's cache). The 32 bytes left at a segment's end
/// (8 of a compact one) hold the address of its NAT side table: 16 bytes per entry for the
/// redirect address, mapped the first time one of the segment's entries
/// takes a NAT connection, so a table without NAT maps none.
///
/// Lock order: the pool lock is a leaf (rank: entry pool); it is taken
/// with no other lock held, once per cache refill or reclaimed batch.
final class EntryPool: @unchecked Sendable {
    static let segmentBytes = 2 << 20
    static let maxSegments = 1 << 16
    /// Where in a segment the address of its NAT side table is kept.
    static let natSideOffset = segmentBytes - 8

    /// immutable: the slots' tuple area
    let layout: EntryLayout
    /// immutable: bytes of a slot, and where its entry (tracker) starts
    let stride: Int, entryOffset: Int
    /// immutable: slots per segment
    let segmentEntries: Int
    /// immutable: ⌈2^64 / segmentEntries⌉, so that a division of a 32-bit
    /// index by `segmentEntries` is one multiplication (exact for every
    /// 32-bit index)
    let divisor: UInt64
    /// immutable: bytes of a NAT side table
    let natSideBytes: Int

    /// Segment directory: entry i lives in segment i >> 14. Each pointer is
    /// written once, under `mutex`, before any index in its segment is
    /// handed out; readers reach an index only through a slot published
    /// after that, so they read the pointer without a lock.
    let segments: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The pool lock.
    let mutex = HeapMutex()
    /// protected by mutex: indexes below this have been handed out at least once
    var fresh: UInt32 = 0
    /// protected by mutex: reclaimed indexes ready for reuse
    var freeList: [UInt32] = []
    /// protected by mutex: NAT side tables mapped
    var natSides = 0
    /// immutable: segments are advised onto transparent huge pages
    let hugePages: Bool

    init(layout: EntryLayout = .wide, hugePages: Bool = true) {
        self.layout = layout
        stride = layout.stride
        entryOffset = layout.entryOffset
        segmentEntries = (Self.segmentBytes - 8) / stride
        divisor = UInt64.max / UInt64(segmentEntries) + 1
        natSideBytes = segmentEntries * MemoryLayout<IPAddress>.stride
        self.hugePages = hugePages
        segments = .allocate(capacity: Self.maxSegments)
        segments.initialize(repeating: nil, count: Self.maxSegments)
    }

    deinit {
        for s in 0..<Self.maxSegments {
            guard let seg = segments[s] else { break }
            // `grow` initialises whole segments.
            for k in 0..<segmentEntries {
                (seg + k * stride + entryOffset).assumingMemoryBound(to: FastEntry.self).deinitialize(count: 1)
            }
            if let side = Self.natSide(seg) {
                precondition(munmap(UnsafeMutableRawPointer(side), natSideBytes) == 0, "munmap of a NAT side table failed: errno \(errno)")
            }
            let rc = munmap(UnsafeMutableRawPointer(seg), Self.segmentBytes)
            precondition(rc == 0, "munmap of an entry segment failed: errno \(errno)")
        }
        segments.deallocate()
    }

    /// The entry at `i`. Preconditions: `i` was handed out.
    @inline(__always)
    func entry(_ i: UInt32) -> UnsafeMutablePointer<FastEntry> {
        let s = UInt32(truncatingIfNeeded: divisor.multipliedFullWidth(by: UInt64(i)).high)
        let k = Int(i &- s &* UInt32(truncatingIfNeeded: segmentEntries))
        return segments[Int(s)].unsafelyUnwrapped.advanced(by: k &* stride &+ entryOffset).assumingMemoryBound(to: FastEntry.self)
    }

    /// The address of a segment's NAT side table (nil: none yet), kept in
    /// the segment's tail. Written once, under the pool lock, before an
    /// entry that uses it is published.
    @inline(__always)
    static func natSide(_ segment: UnsafeMutableRawPointer) -> UnsafeMutablePointer<IPAddress>? {
        UnsafeMutablePointer(bitPattern: natSideWord(segment).pointee.load(ordering: .acquiring))
    }

    /// The segment's tail word holding its NAT side table's address
    /// (atomic: a creator checks it without the pool lock).
    @inline(__always)
    static func natSideWord(_ segment: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt>> {
        (segment + natSideOffset).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    /// Where entry e's NAT redirect address is kept. Preconditions: its
    /// segment has a side table (`prepareNAT`).
    @inline(__always)
    static func natAddress(of e: UnsafeMutablePointer<FastEntry>) -> UnsafeMutablePointer<IPAddress> {
        let a = UInt(bitPattern: e)
        let base = a & ~UInt(segmentBytes - 1)
        let l: EntryLayout = e.isCompact ? .compact : .wide
        let k = Int((a - base - UInt(l.entryOffset)) / UInt(l.stride))
        return natSide(UnsafeMutableRawPointer(bitPattern: base)!).unsafelyUnwrapped + k
    }

    /// Makes sure entry i's segment has a NAT side table (mapped the first
    /// time, under the pool lock). Preconditions: `i` was handed out; no
    /// lock is held but leaves.
    @inline(__always)
    func prepareNAT(_ i: UInt32, _ ctx: inout WorkerContext) {
        let seg = segments[Int(i) / segmentEntries].unsafelyUnwrapped
        if Self.natSide(seg) != nil { return }
        mapNATSide(seg, &ctx)
    }

    @inline(never)
    private func mapNATSide(_ seg: UnsafeMutableRawPointer, _ ctx: inout WorkerContext) {
        mutex.lock(&ctx.locks, rank: .entryPool)
        defer { mutex.unlock(&ctx.locks, rank: .entryPool) }
        if Self.natSide(seg) != nil { return }
        let raw = mmap(nil, natSideBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != MAP_FAILED && raw != nil, "mmap of a NAT side table failed: errno \(errno)")
        _ = raw!.bindMemory(to: IPAddress.self, capacity: segmentEntries)
        Self.natSideWord(seg).pointee.store(UInt(bitPattern: raw), ordering: .releasing)
        natSides += 1
    }

    /// A free entry index, from the worker's cache (refilled under the pool
    /// lock once per `EntryCache.capacity` entries).
    @inline(__always)
    func take(_ generation: UInt64, _ ctx: inout WorkerContext) -> UInt32 {
        if ctx.entryCache.owner != generation { ctx.entryCache = EntryCache(owner: generation) }
        if ctx.entryCache.count == 0 { refill(&ctx) }
        ctx.entryCache.count -= 1
        return ctx.entryCache.items[ctx.entryCache.count]
    }

    /// Gives back an entry taken but never published (an insert that lost).
    @inline(__always)
    func giveBack(_ i: UInt32, _ ctx: inout WorkerContext) {
        if ctx.entryCache.count < EntryCache.capacity {
            ctx.entryCache.items[ctx.entryCache.count] = i
            ctx.entryCache.count += 1
        } else {
            release([i], &ctx)
        }
    }

    /// Fills the worker's cache: reclaimed indexes first, then fresh ones.
    /// The cache pops from its end, so fresh indexes are stored largest
    /// first: an empty table hands out 0, 1, 2, … (an import keeps the
    /// export's order).
    @inline(never)
    private func refill(_ ctx: inout WorkerContext) {
        mutex.lock(&ctx.locks, rank: .entryPool)
        defer { mutex.unlock(&ctx.locks, rank: .entryPool) }
        let reused = min(EntryCache.capacity, freeList.count)
        let want = EntryCache.capacity - reused
        if want > 0 {
            let first = fresh
            grow(to: Int(first) + want)
            fresh = first + UInt32(want)
            for k in 0..<want { ctx.entryCache.items[k] = first + UInt32(want - 1 - k) }
        }
        for k in 0..<reused { ctx.entryCache.items[want + k] = freeList.removeLast() }
        ctx.entryCache.count = EntryCache.capacity
    }

    /// Makes sure entries 0..<n exist, initialising new segments.
    /// Preconditions: the pool lock is held.
    private func grow(to n: Int) {
        precondition(n <= Self.maxSegments * segmentEntries, "the entry pool is full (\(n) entries)")
        var s = (n - 1) / segmentEntries
        while s >= 0 && segments[s] == nil { s -= 1 }
        var next = s + 1
        while next * segmentEntries < n {
            let raw = Self.mapAligned(Self.segmentBytes)
            // Huge pages: one TLB entry covers a whole segment. Advisory;
            // the kernel may decline, which changes nothing else.
            if hugePages { _ = madvise(raw, Self.segmentBytes, Int32(MADV_HUGEPAGE)) }
            for k in 0..<segmentEntries {
                let slot = raw + k * stride
                let words = slot + (entryOffset - 16)
                words.bindMemory(to: Atomic<Int64>.self, capacity: 1).initialize(to: Atomic(0))
                (words + 8).bindMemory(to: Atomic<UInt32>.self, capacity: 1).initialize(to: Atomic(0))
                (words + 12).bindMemory(to: Atomic<UInt32>.self, capacity: 1).initialize(to: Atomic(0))
                (slot + entryOffset).bindMemory(to: FastEntry.self, capacity: 1).initialize(to: FastEntry())
            }
            (raw + Self.natSideOffset).bindMemory(to: Atomic<UInt>.self, capacity: 1).initialize(to: Atomic(0))
            segments[next] = raw
            next += 1
        }
    }

    /// `size` bytes of anonymous memory aligned to `size` (a power of two),
    /// mapped directly: glibc's `posix_memalign` of a 2 MiB block at 2 MiB
    /// alignment maps about twice that.
    static func mapAligned(_ size: Int) -> UnsafeMutableRawPointer {
        let span = 2 * size
        let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != MAP_FAILED && raw != nil, "mmap of an entry segment failed: errno \(errno)")
        let start = UInt(bitPattern: raw)
        let aligned = (start + UInt(size) - 1) & ~(UInt(size) - 1)
        let head = Int(aligned - start), tail = span - head - size
        if head > 0 { precondition(munmap(raw, head) == 0, "munmap failed: errno \(errno)") }
        if tail > 0 {
            precondition(munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(size)), tail) == 0,
                         "munmap failed: errno \(errno)")
        }
        return UnsafeMutableRawPointer(bitPattern: aligned)!
    }

    /// Returns reclaimed entries for reuse.
    func release(_ indexes: [UInt32], _ ctx: inout WorkerContext) {
        guard !indexes.isEmpty else { return }
        mutex.lock(&ctx.locks, rank: .entryPool)
        freeList.append(contentsOf: indexes)
        mutex.unlock(&ctx.locks, rank: .entryPool)
    }

    /// Entries handed out at least once, and entries waiting in the free
    /// list (not counting workers' caches).
    func counts() -> (handedOut: Int, free: Int) {
        mutex.lock()
        defer { mutex.unlock() }
        return (Int(fresh), freeList.count)
    }

    /// Bytes of entry memory mapped (outside the allocator).
    var bytes: Int {
        mutex.lock()
        defer { mutex.unlock() }
        var s = 0
        while s < Self.maxSegments && segments[s] != nil { s += 1 }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return s * Self.segmentBytes + natSides * ((natSideBytes + page - 1) / page * page)
    }
}
