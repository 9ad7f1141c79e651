#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPrefetch
import struct Synchronization.Atomic

/// One index of the `fast` design: home buckets and the overflow area
/// behind them, in one anonymous mapping. The table reaches it through an
/// atomic pointer (`FastTable.current`) that a resize replaces; a thread
/// loads the pointer once per lookup group, walk or write and works on
/// that index, so every bucket number it holds belongs to one index.
struct FastIndex: @unchecked Sendable {
    /// (homeBuckets + overflowCapacity) buckets of 8 words. Word 0 of a
    /// home bucket: overflow link << 32 | version; of an overflow bucket:
    /// link << 32. Words 1–7: slots (0: empty). Written under the home
    /// bucket's stripe lock while this index is current; read without a lock.
    let words: UnsafeMutablePointer<Atomic<UInt64>>
    /// immutable: home buckets (a power of two)
    let homeBuckets: Int
    /// immutable: homeBuckets - 1
    let mask: UInt64
    /// immutable: overflow buckets after the home buckets
    let overflowCapacity: Int
    /// Overflow buckets handed out (taken under a stripe lock; stripes
    /// compete, so it is atomic; touched only when a chain overflows).
    let overflowUsed: UnsafeMutablePointer<Atomic<Int>>

    /// Bytes mapped for the index.
    var bytes: Int { (homeBuckets + overflowCapacity) * 64 }

    /// Maps an index of `home` home buckets (a power of two) and `overflow`
    /// overflow buckets, every word zero.
    static func make(home: Int, overflow: Int) -> UnsafeMutablePointer<FastIndex> {
        precondition(home > 0 && home & (home - 1) == 0, "\(home) home buckets: a power of two")
        // Anonymous memory reads as zero (every word an empty slot or an
        // even version without a link) and costs nothing until touched, so
        // the overflow area can be generous: only chains in use take pages.
        let bytes = (home + overflow) * 64
        let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(raw != MAP_FAILED && raw != nil, "mmap of a \(bytes)-byte index failed: errno \(errno)")
        let words = raw!.bindMemory(to: Atomic<UInt64>.self, capacity: bytes / 8)
        prefault(words, bytes: home * 64)
        let used = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        used.initialize(to: Atomic(0))
        let p = UnsafeMutablePointer<FastIndex>.allocate(capacity: 1)
        p.initialize(to: FastIndex(words: words, homeBuckets: home, mask: UInt64(home - 1),
                                   overflowCapacity: overflow, overflowUsed: used))
        return p
    }

    /// Unmaps an index. Preconditions: no thread can still read it.
    static func destroy(_ p: UnsafeMutablePointer<FastIndex>) {
        let rc = munmap(UnsafeMutableRawPointer(p.pointee.words), p.pointee.bytes)
        precondition(rc == 0, "munmap of the index failed: errno \(errno)")
        p.pointee.overflowUsed.deinitialize(count: 1)
        p.pointee.overflowUsed.deallocate()
        p.deinitialize(count: 1)
        p.deallocate()
    }

    /// Writes each page of `bytes` from `words` once (a zero, which it
    /// already reads as). Lookups read home buckets before anything is
    /// written to them, and a read of an untouched anonymous page maps the
    /// kernel's shared zero page: the first write must then replace a
    /// present mapping, which flushes the TLB of every CPU running a
    /// worker, an interrupt to each (16 % of a 2-worker capture replay's
    /// samples). A page written first gets its own frame with no flush.
    /// Overflow buckets are written when taken, before any read.
    static func prefault(_ words: UnsafeMutablePointer<Atomic<UInt64>>, bytes: Int) {
        let step = max(8, Int(sysconf(Int32(_SC_PAGESIZE)))) / 8
        var k = 0
        while k < bytes / 8 {
            words[k].store(0, ordering: .relaxed)
            k += step
        }
    }

    @inline(__always) func home(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h & mask) }

    @inline(__always) func word(_ bucket: Int, _ k: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        words + (bucket &<< 3) + k
    }

    @inline(__always) func prefetchBucket(_ b: Int) { ct_prefetch_read(UnsafeRawPointer(words + (b &<< 3))) }
}
