#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Sync

/// One tuple of a connection: an element of its bucket's intrusive list.
/// Lives inside its `ConnNode`, so it is never allocated on its own.

struct TupleNode {
    // 64 bytes: with 64-byte aligned connections each tuple is one cache line.
    /// protected by the lock of the bucket this tuple is linked into
    var next: UnsafeMutablePointer<TupleNode>?
    /// protected by the lock of the bucket this tuple is linked into
    var prev: UnsafeMutablePointer<TupleNode>?
    /// immutable: the owning connection (a tuple finds its partner here).
    var conn: UnsafeMutablePointer<ConnNode>
    /// immutable
    var id: TupleID
    /// immutable
    var direction: Direction
}

/// A tracked connection, in one manually managed block so that its mutex
/// and both list elements have stable addresses and cost one allocation.

struct ConnNode {
    // Layout (64-byte aligned block): line 0 holds the lock, lastUsed and the
    // tracker state that every expiry check reads; the tuples follow on lines
    // 2 and 3, one line each. The lock comes first so that Swift's
    // instrumented accesses to the block's base address (ThreadSanitizer
    // keys them there) never coincide with a tuple that other threads walk.
    /// The connection lock (seed: `conn.mu`). Ranked after every bucket.
    var mutex: pthread_mutex_t
    /// protected by mutex: nanoseconds on the table's clock
    var lastUsed: Int64
    /// protected by mutex: the hook that initialised the tracker
    var tcbHook: Hook
    /// protected by mutex
    var tcb: TCB
    /// protected by mutex
    var udp: UDPState
    /// immutable: whether the reply is redirected (NAT)
    var natRedirect: Bool
    /// protected by the table's retire lock once the connection is removed
    var retiredNext: UnsafeMutablePointer<ConnNode>?
    /// protected by the table's retire lock
    var retired: Bool
    /// State bits of a design's own (`ovs`: `OVSBits`), in what was a gap:
    /// protected by mutex.
    var designBits: UInt8 = 0
    /// A word of a design's own, which with the packed 36-byte tracker and
    /// `serial` puts `original` at offset 128. `ovs` keeps its expiration
    /// there, as an atomic (OVSTable+Expiration.swift); 0 otherwise.
    var designWord: UInt64 = 0
    /// Padding that, with `designWord`, puts `original` at offset 128, used for an insertion
    /// serial by designs that need one for export (protected by their table
    /// lock); 0 otherwise.
    var serial: UInt64
    /// immutable after insert
    var original: TupleNode
    /// immutable after insert
    var reply: TupleNode

    /// Allocates and initialises a connection (the seed's `newConn`).

    /// `adaptiveMutex`: its lock spins before it sleeps; `cacheAligned`:
    /// the block starts a cache line (see the layout note above). `ovs`
    /// makes its connections as OVS does (`xzalloc`, adaptive lock): an
    /// adaptive lock at malloc's alignment, which also spares the aligned
    /// allocator's cost (a third of its inserts' instructions, callgrind).
    static func make(original: TupleID, reply: TupleID, hook: Hook, now: Int64, nat: Bool,
                     adaptiveMutex: Bool = false, cacheAligned: Bool = true) -> UnsafeMutablePointer<ConnNode> {
        let p = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<ConnNode>.stride,
                                                 alignment: cacheAligned ? 64 : MemoryLayout<ConnNode>.alignment)
            .bindMemory(to: ConnNode.self, capacity: 1)
        p.initialize(to: ConnNode(
            mutex: pthread_mutex_t(), lastUsed: now, tcbHook: hook, tcb: TCB(), udp: UDPState(),
            natRedirect: nat, retiredNext: nil, retired: false, serial: 0,
            original: TupleNode(next: nil, prev: nil, conn: p, id: original, direction: .original),
            reply: TupleNode(next: nil, prev: nil, conn: p, id: reply, direction: .reply)))
        PThread.initMutex(p.pointer(to: \.mutex)!, adaptive: adaptiveMutex)
        return p
    }


    static func destroy(_ p: UnsafeMutablePointer<ConnNode>) {
        PThread.destroyMutex(p.pointer(to: \.mutex)!)
        p.deinitialize(count: 1)
        UnsafeMutableRawPointer(p).deallocate()
    }
}

extension UnsafeMutablePointer where Pointee == ConnNode {
    /// A self-connection (a LAND packet: source and destination address
    /// and port equal): its reply tuple equals its original, so one tuple
    /// id stands for both directions.
    @inline(__always) var isSelf: Bool { pointee.original.id == pointee.reply.id }

    @inline(__always) var mutexPtr: UnsafeMutablePointer<pthread_mutex_t> { pointer(to: \.mutex)! }
    @inline(__always) var originalPtr: UnsafeMutablePointer<TupleNode> { pointer(to: \.original)! }
    @inline(__always) var replyPtr: UnsafeMutablePointer<TupleNode> { pointer(to: \.reply)! }
}

extension UnsafeMutablePointer where Pointee == TupleNode {
    /// The other tuple of the same connection, found directly.
    @inline(__always) var partner: UnsafeMutablePointer<TupleNode> {
        pointee.direction == .original ? pointee.conn.replyPtr : pointee.conn.originalPtr
    }
}

/// A handle on a tracked connection, for callers and tests. Valid while the
/// connection is in the table or until the table reclaims retired memory.
public struct Connection: Hashable, @unchecked Sendable {
    let node: UnsafeMutablePointer<ConnNode>
    init(_ node: UnsafeMutablePointer<ConnNode>) { self.node = node }

    public var originalID: TupleID { node.pointee.original.id }
    public var replyID: TupleID { node.pointee.reply.id }
    public var isNAT: Bool { node.pointee.natRedirect }

    /// Reads the mutable fields under the connection lock.
    public func snapshot() -> (lastUsed: Int64, state: TrackerResult, tcb: TCB, hook: Hook, udp: UDPState) {
        PThread.lock(node.mutexPtr)
        defer { PThread.unlock(node.mutexPtr) }
        let n = node.pointee
        return (n.lastUsed, n.tcb.state, n.tcb, n.tcbHook, n.udp)
    }

    public var lastUsed: Int64 { snapshot().lastUsed }
    public var trackerState: TrackerResult { snapshot().state }
}

