#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// What a connection of the `linux` design keeps that never changes once
/// it is in the table (`nf_conn`'s tuples and the like). Written before
/// the connection is published, read by lock-free lookups after.
struct LinuxKeys {
    var original: TupleID
    var reply: TupleID
    /// The hook of the packet that created it (export only).
    var hook: Hook
    var nat: Bool
    /// UDP: when a replied flow counts as a stream (`stream_ts`).
    var streamAt: Int64
}

/// What the connection lock (`ct->lock`) protects.
struct LinuxLocked {
    /// protected by the connection lock
    var tcp: LinuxTCPConntrack
    /// protected by the connection lock: the last packet's time (the
    /// harness's `lastUsed`; Linux keeps only the expiry)
    var lastUsed: Int64
}

/// Linux's `ct->status` bits, numbered as the kernel numbers them.
enum LinuxStatus {
    static let seenReply: UInt = 1 << 1
    static let assured: UInt = 1 << 2
    static let confirmed: UInt = 1 << 3
    static let dying: UInt = 1 << 9
}

/// One connection (`struct nf_conn`): a 64-byte-aligned block holding the
/// two list nodes (`tuplehash[2]`), the atomics that lock-free readers
/// use, the connection lock and the tracker. Each region is reached
/// through its own pointer, so ThreadSanitizer sees each access at its
/// own address (a Swift access through a struct pointer is keyed at the
/// struct's base): the lock, each atomic word, each writer-only link
/// field, the immutable keys and the locked state never share one.
///
/// A list node is named by a link word: the block's address with the
/// direction in bit 1 (bit 0 clear); a word with bit 0 set is a chain's
/// end marker, `bucket << 1 | 1` (`hlist_nulls`).
struct LinuxConn: Equatable {
    let base: UnsafeMutableRawPointer

    enum Layout {
        static func align(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }
        static let mutex = 0
        /// Atomic: references (`ct_general.use`): 1 for the table, one per
        /// packet using it; 0 once removed.
        static let refs = align(MemoryLayout<pthread_mutex_t>.size, 8)
        /// Atomic: `LinuxStatus` bits.
        static let status = refs + 8
        /// Atomic: the virtual time it expires at (`ct->timeout`).
        static let expires = status + 8
        /// Atomic: the next link of the original (+0) and reply (+8) nodes.
        static let next = expires + 8
        /// Writer-only: the address of the word that links to the node
        /// (`pprev`), original (+0) and reply (+8); protected by the stripe
        /// lock of the bucket the node is in.
        static let pprev = next + 16
        /// protected by the reclaimer's retire lock
        static let retiredNext = pprev + 16
        /// protected by the reclaimer's retire lock: removed once already
        static let retired = retiredNext + 8
        /// Export's scratch index (no other thread uses the table then).
        static let serial = retired + 8
        static let keys = align(serial + 8, MemoryLayout<LinuxKeys>.alignment)
        static let locked = align(keys + MemoryLayout<LinuxKeys>.size, MemoryLayout<LinuxLocked>.alignment)
        static let stride = align(locked + MemoryLayout<LinuxLocked>.size, 64)
    }

    @inline(__always) init(_ base: UnsafeMutableRawPointer) { self.base = base }

    /// The connection a node link names. Preconditions: not an end marker.
    @inline(__always)
    init(link v: UInt) { base = UnsafeMutableRawPointer(bitPattern: v & ~UInt(63)).unsafelyUnwrapped }

    /// The direction (0 original, 1 reply) a node link names.
    @inline(__always) static func direction(_ v: UInt) -> Int { Int(truncatingIfNeeded: (v &>> 1) & 1) }

    /// The link word naming this connection's node in direction `dir`.
    @inline(__always) func link(_ dir: Int) -> UInt { UInt(bitPattern: base) | UInt(dir) &<< 1 }

    @inline(__always) var mutex: UnsafeMutablePointer<pthread_mutex_t> {
        base.assumingMemoryBound(to: pthread_mutex_t.self)
    }
    @inline(__always) var refs: UnsafeMutablePointer<Atomic<Int>> {
        (base + Layout.refs).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inline(__always) var status: UnsafeMutablePointer<Atomic<UInt>> {
        (base + Layout.status).assumingMemoryBound(to: Atomic<UInt>.self)
    }
    @inline(__always) var expires: UnsafeMutablePointer<Atomic<Int64>> {
        (base + Layout.expires).assumingMemoryBound(to: Atomic<Int64>.self)
    }
    @inline(__always) func next(_ dir: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
        (base + Layout.next + 8 &* dir).assumingMemoryBound(to: Atomic<UInt>.self)
    }
    @inline(__always) func pprev(_ dir: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt>>?> {
        (base + Layout.pprev + 8 &* dir).assumingMemoryBound(to: UnsafeMutablePointer<Atomic<UInt>>?.self)
    }
    @inline(__always) var retiredNext: UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        (base + Layout.retiredNext).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }
    @inline(__always) var retired: UnsafeMutablePointer<UInt64> {
        (base + Layout.retired).assumingMemoryBound(to: UInt64.self)
    }
    @inline(__always) var serial: UnsafeMutablePointer<UInt64> {
        (base + Layout.serial).assumingMemoryBound(to: UInt64.self)
    }
    @inline(__always) var keys: UnsafeMutablePointer<LinuxKeys> {
        (base + Layout.keys).assumingMemoryBound(to: LinuxKeys.self)
    }
    @inline(__always) var locked: UnsafeMutablePointer<LinuxLocked> {
        (base + Layout.locked).assumingMemoryBound(to: LinuxLocked.self)
    }

    /// The tuple of the node in direction `dir` (immutable while published).
    @inline(__always) func tuple(_ dir: Int) -> TupleID {
        dir == 0 ? keys.pointee.original : keys.pointee.reply
    }

    /// A new connection, unpublished: no references, no status, unlinked.
    static func make(original: TupleID, reply: TupleID, hook: Hook, nat: Bool, streamAt: Int64,
                     tcp: LinuxTCPConntrack, lastUsed: Int64) -> LinuxConn {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Layout.stride, alignment: 64)
        let c = LinuxConn(raw)
        c.mutex.initialize(to: pthread_mutex_t())
        PThread.initMutex(c.mutex)
        (raw + Layout.refs).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (raw + Layout.status).bindMemory(to: Atomic<UInt>.self, capacity: 1).initialize(to: Atomic(0))
        (raw + Layout.expires).bindMemory(to: Atomic<Int64>.self, capacity: 1).initialize(to: Atomic(0))
        for d in 0..<2 {
            (raw + Layout.next + 8 * d).bindMemory(to: Atomic<UInt>.self, capacity: 1).initialize(to: Atomic(1))
            (raw + Layout.pprev + 8 * d).bindMemory(to: UnsafeMutablePointer<Atomic<UInt>>?.self, capacity: 1)
                .initialize(to: nil)
        }
        (raw + Layout.retiredNext).bindMemory(to: UnsafeMutableRawPointer?.self, capacity: 1).initialize(to: nil)
        (raw + Layout.retired).bindMemory(to: UInt64.self, capacity: 1).initialize(to: 0)
        (raw + Layout.serial).bindMemory(to: UInt64.self, capacity: 1).initialize(to: 0)
        (raw + Layout.keys).bindMemory(to: LinuxKeys.self, capacity: 1)
            .initialize(to: LinuxKeys(original: original, reply: reply, hook: hook, nat: nat, streamAt: streamAt))
        (raw + Layout.locked).bindMemory(to: LinuxLocked.self, capacity: 1)
            .initialize(to: LinuxLocked(tcp: tcp, lastUsed: lastUsed))
        return c
    }

    /// Frees the block. Preconditions: no thread can reach it.
    static func destroy(_ c: LinuxConn) {
        PThread.destroyMutex(c.mutex)
        c.mutex.deinitialize(count: 1)
        c.keys.deinitialize(count: 1)
        c.locked.deinitialize(count: 1)
        c.base.deallocate()
    }

    // MARK: References and status (`nf_conntrack_get`, `nf_ct_put`)

    /// `refcount_inc_not_zero`: false once the connection was removed.
    @inline(__always)
    func refIncNotZero() -> Bool {
        var v = refs.pointee.load(ordering: .relaxed)
        while v != 0 {
            let (done, seen) = refs.pointee.compareExchange(expected: v, desired: v &+ 1, ordering: .acquiring)
            if done { return true }
            v = seen
        }
        return false
    }

    /// `nf_ct_put`: drops one reference (memory is freed by the reclaimer,
    /// after a grace period, not when this reaches 0).
    @inline(__always)
    func put() { refs.pointee.subtract(1, ordering: .releasing) }

    @inline(__always) func has(_ bit: UInt) -> Bool { status.pointee.load(ordering: .acquiring) & bit != 0 }

    /// Sets `bit`; true when this call set it (`test_and_set_bit` negated).
    @inline(__always) @discardableResult
    func set(_ bit: UInt) -> Bool {
        if status.pointee.load(ordering: .relaxed) & bit != 0 { return false }
        return status.pointee.bitwiseOr(bit, ordering: .acquiringAndReleasing).oldValue & bit == 0
    }

    /// Nanoseconds until it expires (negative: expired); no lock.
    @inline(__always) func remaining(now: Int64) -> Int64 { expires.pointee.load(ordering: .relaxed) &- now }
}
