#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import struct Synchronization.Atomic

/// A concurrent cuckoo hash map in the manner of OVS's `cmap` (lib/cmap.c):
/// two hash functions, buckets of one 64-byte cache line each holding a
/// version counter and 5 (hash, entry) pairs, readers that take no lock and
/// validate what they read with the counter, and a single writer (the
/// caller holds the table's insert lock) that makes room by moving entries
/// along a cuckoo path found breadth first.
///
/// Bucket layout, 8 words of 64 bits, every one an atomic:
///
///     word 0: counter (low 32 bits) | hash of slot 0 (high 32)
///     word 1: hash of slot 1 | hash of slot 2 << 32
///     word 2: hash of slot 3 | hash of slot 4 << 32
///     words 3-7: the entries of slots 0-4 (a `TupleNode` address; 0: empty)
///
/// The counter is odd while a writer changes the bucket. A reader waits for
/// it to be even, reads, and reads it again; a change means the bucket
/// changed under it, and it reads again. An entry moving between its two
/// buckets is written to its new bucket before its old slot is reused, so it
/// is always in one of them (as `cmap_insert_bfs` moves them).
///
/// One map is one size, as one `cmap_impl`: the table grows and shrinks it
/// as cmap does (`cmap_insert`, `cmap_replace`), by building a map of
/// twice or half the buckets beside it, publishing that, and freeing the
/// old one once no reader can hold it (`OVSTable+MapSize.swift`).
///
/// Difference from cmap: equal hashes take separate slots instead of a
/// chain, so a reader compares the key of every slot whose hash matches.
struct CuckooMap: @unchecked Sendable {
    static let slots = 5
    static let wordsPerBucket = 8
    /// cmap_insert_bfs's bounds: paths of at most 4 moves, 500 queued.
    static let maxDepth = 4
    static let maxQueue = 500

    /// (buckets × 8) words, read without a lock, written under the insert lock.
    let words: UnsafeMutablePointer<Atomic<UInt64>>
    /// immutable: a power of two
    let bucketCount: Int
    /// immutable: bucketCount - 1
    let mask: UInt32
    /// immutable: the basis the client hash is rehashed with (cmap's `basis`)
    let basis: UInt32
    /// immutable
    let mappedBytes: Int
    /// immutable: buckets per page of memory
    let bucketsPerPage: Int
    /// Pages a writer has written, as a bitmap and a count (written under
    /// the insert lock): the map's resident memory, as far as it is in use.
    let touched: UnsafeMutablePointer<UInt64>
    let touchedCount: UnsafeMutablePointer<Int>
    let touchedWords: Int
    /// Displacements (`insertBFS` moves, and rehashes into another map) so
    /// far: bumped before an entry moves, so a walk that read it unchanged
    /// across its length saw no entry move between buckets (a moved entry
    /// can be missed or met twice). Shared by a table's successive maps,
    /// which the table owns. Written under the insert lock, read without it.
    let moves: UnsafeMutablePointer<Atomic<UInt64>>

    /// A path for the breadth-first search: its first bucket, the slot
    /// followed at each step, and the bucket it ends at.
    struct Path {
        var start: Int32 = 0
        var end: Int32 = 0
        var n: Int32 = 0
        var slots: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)

        func slot(_ i: Int) -> Int {
            switch i { case 0: Int(slots.0); case 1: Int(slots.1); case 2: Int(slots.2); default: Int(slots.3) }
        }

        mutating func append(_ s: Int) {
            switch n { case 0: slots.0 = UInt8(s); case 1: slots.1 = UInt8(s); case 2: slots.2 = UInt8(s); default: slots.3 = UInt8(s) }
            n += 1
        }
    }

    /// Buckets for `entries` at most 85 % full, a power of two, 16 at least.
    static func buckets(forEntries entries: Int) -> Int {
        let needed = (entries * 100 + slots * 85 - 1) / (slots * 85)
        var b = minBuckets
        while b < needed { b <<= 1 }
        return b
    }

    /// The fewest buckets a map has (OVS's cmap starts at one, empty).
    static var minBuckets: Int { 16 }
    /// Entries at which the table doubles the map: 85 % of its slots
    /// (cmap's `CMAP_MAX_LOAD`).
    var maxEntries: Int { bucketCount * Self.slots * 85 / 100 }
    /// Entries below which the table halves the map: 20 % of its slots
    /// (`CMAP_MIN_LOAD`), never below `minBuckets`.
    var minEntries: Int { bucketCount > Self.minBuckets ? bucketCount * Self.slots * 20 / 100 : 0 }

    init(buckets: Int, basis: UInt32, moves: UnsafeMutablePointer<Atomic<UInt64>>) {
        precondition(buckets >= 1 && buckets & (buckets - 1) == 0 && buckets <= 1 << 30, "bucket count must be a power of two")
        bucketCount = buckets
        mask = UInt32(truncatingIfNeeded: buckets - 1)
        self.basis = basis
        mappedBytes = buckets * 64
        // Anonymous memory reads as zero (every counter even, every slot
        // empty) and takes pages only where entries land.
        let raw = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(raw != MAP_FAILED && raw != nil, "mmap of a \(mappedBytes)-byte cuckoo map failed: errno \(errno)")
        words = raw!.bindMemory(to: Atomic<UInt64>.self, capacity: buckets * Self.wordsPerBucket)
        bucketsPerPage = max(1, MemoryFootprint.page / 64)
        let pages = (buckets + bucketsPerPage - 1) / bucketsPerPage
        touchedWords = (pages + 63) / 64
        touched = .allocate(capacity: touchedWords)
        touched.initialize(repeating: 0, count: touchedWords)
        touchedCount = .allocate(capacity: 1)
        touchedCount.initialize(to: 0)
        self.moves = moves
    }

    /// Bytes of the pages writers have written. Preconditions: the insert lock is held.
    var touchedBytes: Int { touchedCount.pointee * MemoryFootprint.page }

    /// Preconditions: no other thread uses the map.
    func destroy() {
        let rc = munmap(UnsafeMutableRawPointer(words), mappedBytes)
        precondition(rc == 0, "munmap failed: errno \(errno)")
        touched.deallocate()
        touchedCount.deallocate()
    }

    // MARK: Hashes

    /// The first hash of a client hash (cmap's `rehash`: the client hash
    /// mixed with the basis).
    @inline(__always)
    func h1(_ hash: UInt32) -> UInt32 {
        var x = hash ^ basis
        x ^= x &>> 16; x &*= 0x7feb_352d
        x ^= x &>> 15; x &*= 0x846c_a68b
        x ^= x &>> 16
        return x
    }

    /// The second hash: the first rotated by 16 bits (cmap's `other_hash`).
    @inline(__always)
    static func other(_ h: UInt32) -> UInt32 { (h &<< 16) | (h &>> 16) }

    @inline(__always)
    func bucketsOf(_ hash: UInt32) -> (Int, Int) {
        let a = h1(hash)
        return (Int(a & mask), Int(Self.other(a) & mask))
    }

    /// The other bucket an entry of `hash` in bucket `b` may occupy.
    @inline(__always)
    func otherBucket(_ hash: UInt32, from b: Int) -> Int {
        let (x, y) = bucketsOf(hash)
        return x == b ? y : x
    }

    // MARK: Words

    @inline(__always)
    func word(_ b: Int, _ w: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { words + (b &* Self.wordsPerBucket &+ w) }

    @inline(__always)
    static func hash(of i: Int, _ w0: UInt64, _ w1: UInt64, _ w2: UInt64) -> UInt32 {
        switch i {
        case 0: UInt32(truncatingIfNeeded: w0 &>> 32)
        case 1: UInt32(truncatingIfNeeded: w1)
        case 2: UInt32(truncatingIfNeeded: w1 &>> 32)
        case 3: UInt32(truncatingIfNeeded: w2)
        default: UInt32(truncatingIfNeeded: w2 &>> 32)
        }
    }

    /// The counter of bucket `b`, waited for until even (`read_even_counter`).
    @inline(__always)
    func readEven(_ b: Int) -> UInt64 {
        while true {
            let w0 = word(b, 0).pointee.load(ordering: .acquiring)
            if w0 & 1 == 0 { return w0 }
        }
    }

    @inline(__always)
    func changed(_ b: Int, since w0: UInt64) -> Bool {
        word(b, 0).pointee.load(ordering: .acquiring) != w0
    }

    // MARK: Lock-free lookup

    /// Entries found by `findAll`: every slot of a key's two buckets can
    /// hold one.
    struct Matches {
        var nodes = InlineArray<10, UInt>(repeating: 0)
        var count = 0
        subscript(_ i: Int) -> UnsafeMutablePointer<TupleNode> { UnsafeMutablePointer(bitPattern: nodes[i])! }
        mutating func append(_ n: UnsafeMutablePointer<TupleNode>) {
            nodes[count] = UInt(bitPattern: n)
            count += 1
        }
    }

    /// The entries of `hash` in bucket `b` that `matches` accepts; `w0` is
    /// its word 0 as read.
    @inline(__always)
    func scanAll(_ b: Int, w0: UInt64, hash: UInt32, into m: inout Matches, compared: inout Int,
                 _ matches: (UnsafeMutablePointer<TupleNode>) -> Bool) {
        let w1 = word(b, 1).pointee.load(ordering: .acquiring)
        let w2 = word(b, 2).pointee.load(ordering: .acquiring)
        for i in 0..<Self.slots where Self.hash(of: i, w0, w1, w2) == hash {
            let e = word(b, 3 &+ i).pointee.load(ordering: .acquiring)
            guard e != 0, let node = UnsafeMutablePointer<TupleNode>(bitPattern: UInt(e)) else { continue }
            compared &+= 1
            if matches(node) { m.append(node) }
        }
    }

    /// `CMAP_FOR_EACH_WITH_HASH` as `conn_key_lookup` walks it: every entry
    /// of `hash` that `matches` accepts, from both buckets read as `find`
    /// reads them (each until its counter held still, then bucket 1's
    /// counter once more). `matches` reads only what is immutable while an
    /// entry is published. Returns the matches, the entries compared, and
    /// the reads repeated.
    @inline(__always)
    func findAll(hash: UInt32, _ matches: (UnsafeMutablePointer<TupleNode>) -> Bool)
        -> (matches: Matches, compared: Int, restarts: Int) {
        let (b1, b2) = bucketsOf(hash)
        var compared = 0, restarts = 0
        while true {
            var m = Matches()
            var c1 = readEven(b1)
            scanAll(b1, w0: c1, hash: hash, into: &m, compared: &compared, matches)
            while changed(b1, since: c1) {
                restarts &+= 1
                m = Matches()
                c1 = readEven(b1)
                scanAll(b1, w0: c1, hash: hash, into: &m, compared: &compared, matches)
            }
            if b2 != b1 {
                let first = m
                var c2 = readEven(b2)
                scanAll(b2, w0: c2, hash: hash, into: &m, compared: &compared, matches)
                while changed(b2, since: c2) {
                    restarts &+= 1
                    m = first
                    c2 = readEven(b2)
                    scanAll(b2, w0: c2, hash: hash, into: &m, compared: &compared, matches)
                }
            }
            if !changed(b1, since: c1) { return (m, compared, restarts) }
            restarts &+= 1
        }
    }

    /// `cmap_find` for one tuple: the entry whose tuple is `id`, read as
    /// `findAll` reads (every entry's key is immutable while it is
    /// published). Returns the entry, the keys compared, and the reads
    /// repeated.
    @inline(__always)
    func find(_ id: TupleID, hash: UInt32) -> (node: UnsafeMutablePointer<TupleNode>?, compared: Int, restarts: Int) {
        let r = findAll(hash: hash) { $0.pointer(to: \.id)!.pointee == id }
        return (r.matches.count > 0 ? r.matches[0] : nil, r.compared, r.restarts)
    }

    // MARK: Writer (the caller holds the insert lock)

    /// The entry in slot `i` of bucket `b`. Preconditions: the insert lock is held.
    @inline(__always)
    func entry(_ b: Int, _ i: Int) -> UInt64 { word(b, 3 &+ i).pointee.load(ordering: .relaxed) }

    /// The hash in slot `i` of bucket `b`. Preconditions: the insert lock is held.
    @inline(__always)
    func hashAt(_ b: Int, _ i: Int) -> UInt32 {
        Self.hash(of: i, word(b, 0).pointee.load(ordering: .relaxed), word(b, 1).pointee.load(ordering: .relaxed),
                  word(b, 2).pointee.load(ordering: .relaxed))
    }

    /// `cmap_set_bucket`: the counter made odd, the slot written, the
    /// counter made even again. Preconditions: the insert lock is held.
    func set(_ b: Int, _ i: Int, entry: UInt64, hash: UInt32) {
        let page = b / bucketsPerPage
        if touched[page >> 6] & (1 << UInt64(page & 63)) == 0 {
            touched[page >> 6] |= 1 << UInt64(page & 63)
            touchedCount.pointee += 1
        }
        let w0 = word(b, 0).pointee.load(ordering: .relaxed)
        let c = UInt32(truncatingIfNeeded: w0)
        var hi = w0 & 0xFFFF_FFFF_0000_0000
        word(b, 0).pointee.store(hi | UInt64(c &+ 1), ordering: .sequentiallyConsistent)
        switch i {
        case 0: hi = UInt64(hash) &<< 32
        case 1, 2:
            let w1 = word(b, 1).pointee.load(ordering: .relaxed)
            let v = i == 1 ? (w1 & 0xFFFF_FFFF_0000_0000) | UInt64(hash) : (w1 & 0xFFFF_FFFF) | UInt64(hash) &<< 32
            word(b, 1).pointee.store(v, ordering: .sequentiallyConsistent)
        default:
            let w2 = word(b, 2).pointee.load(ordering: .relaxed)
            let v = i == 3 ? (w2 & 0xFFFF_FFFF_0000_0000) | UInt64(hash) : (w2 & 0xFFFF_FFFF) | UInt64(hash) &<< 32
            word(b, 2).pointee.store(v, ordering: .sequentiallyConsistent)
        }
        word(b, 3 &+ i).pointee.store(entry, ordering: .sequentiallyConsistent)
        word(b, 0).pointee.store(hi | UInt64(c &+ 2), ordering: .sequentiallyConsistent)
    }

    /// An empty slot of bucket `b`, or nil. Preconditions: the insert lock is held.
    func emptySlot(_ b: Int) -> Int? {
        for i in 0..<Self.slots where entry(b, i) == 0 { return i }
        return nil
    }

    /// `cmap_try_insert` without duplicate chains: an empty slot in either
    /// bucket, else a cuckoo path. Returns the entries moved, or nil when
    /// no path exists (the map is too full around these buckets).
    /// Preconditions: the insert lock is held; `queue` holds `maxQueue` paths.
    func insert(_ node: UnsafeMutablePointer<TupleNode>, hash: UInt32, queue: UnsafeMutablePointer<Path>) -> Int? {
        let e = UInt64(UInt(bitPattern: node))
        let (b1, b2) = bucketsOf(hash)
        if let i = emptySlot(b1) { set(b1, i, entry: e, hash: hash); return 0 }
        if let i = emptySlot(b2) { set(b2, i, entry: e, hash: hash); return 0 }
        return insertBFS(e, hash: hash, b1, b2, queue)
    }

    /// `cmap_insert_bfs`: breadth first from both buckets to a bucket with
    /// an empty slot, at most `maxDepth` moves; the entries along the path
    /// move backwards, each copied to its next bucket before its slot is
    /// reused, so a concurrent reader always finds every entry.
    func insertBFS(_ e: UInt64, hash: UInt32, _ b1: Int, _ b2: Int, _ queue: UnsafeMutablePointer<Path>) -> Int? {
        var head = 0, tail = 0
        queue[head] = Path(start: Int32(b1), end: Int32(b1)); head += 1
        if b1 != b2 { queue[head] = Path(start: Int32(b2), end: Int32(b2)); head += 1 }
        while tail < head {
            let path = queue[tail]; tail += 1
            let this = Int(path.end)
            for i in 0..<Self.slots {
                let next = otherBucket(hashAt(this, i), from: this)
                if next == this { continue }
                if let j = emptySlot(next) {
                    // The full path: buckets[0] via slots[0] to buckets[1] … to
                    // buckets[n+1], whose slot j is free.
                    let n = Int(path.n)
                    var slots = InlineArray<6, Int>(repeating: 0)
                    var buckets = InlineArray<6, Int>(repeating: 0)
                    for k in 0..<n { slots[k] = path.slot(k) }
                    slots[n] = i; slots[n + 1] = j
                    buckets[0] = Int(path.start)
                    for k in 0...n { buckets[k + 1] = otherBucket(hashAt(buckets[k], slots[k]), from: buckets[k]) }
                    moves.pointee.add(1, ordering: .sequentiallyConsistent)
                    var k = n + 1
                    while k > 0 {
                        let from = buckets[k - 1], s = slots[k - 1]
                        set(buckets[k], slots[k], entry: entry(from, s), hash: hashAt(from, s))
                        k -= 1
                    }
                    set(buckets[0], slots[0], entry: e, hash: hash)
                    return n + 1
                }
                if Int(path.n) < Self.maxDepth && head < Self.maxQueue {
                    var p = path
                    p.end = Int32(next)
                    p.append(i)
                    queue[head] = p; head += 1
                }
            }
        }
        return nil
    }

    /// Empties the slot holding `node` (in one of the buckets of `hash`).
    /// Returns false when it is in neither. Preconditions: the insert lock is held.
    @discardableResult
    func remove(_ node: UnsafeMutablePointer<TupleNode>, hash: UInt32) -> Bool {
        let e = UInt64(UInt(bitPattern: node))
        let (b1, b2) = bucketsOf(hash)
        for i in 0..<Self.slots where entry(b1, i) == e {
            set(b1, i, entry: 0, hash: 0)
            return true
        }
        for i in 0..<Self.slots where b2 != b1 && entry(b2, i) == e {
            set(b2, i, entry: 0, hash: 0)
            return true
        }
        return false
    }

    /// Calls `body` with each bucket's occupied slots (entry, hash).
    /// Preconditions: the insert lock is held.
    func forEachBucket(_ body: (Int, [(UnsafeMutablePointer<TupleNode>, UInt32)]) -> Void) {
        for b in 0..<bucketCount {
            var occupied: [(UnsafeMutablePointer<TupleNode>, UInt32)] = []
            for i in 0..<Self.slots {
                let e = entry(b, i)
                if e != 0, let n = UnsafeMutablePointer<TupleNode>(bitPattern: UInt(e)) { occupied.append((n, hashAt(b, i))) }
            }
            if !occupied.isEmpty { body(b, occupied) }
        }
    }
}
