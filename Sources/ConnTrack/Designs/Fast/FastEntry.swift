import struct Synchronization.Atomic

/// One connection of the `fast` design: 96 bytes in a preallocated pool,
/// addressed by a 32-bit index.
///
/// The first 56 bytes hold what a lookup reads (the original tuple,
/// compared against the packet, the flags and `lastUsed`, written by every
/// packet), the last 36 the TCP tracker. A NAT connection's redirect
/// address sits out of line, in its segment's NAT side table
/// (`EntryPool.natAddress`), so connections without NAT do not pay for it.
/// The entry never moves while it is published, and it is reused only
/// after every worker has passed a quiescent point since its removal, so a
/// reader that found its index in a slot may read its tuple without a lock.
struct FastEntry: ~Copyable {
    // Layout (96 bytes): original 0–37, natPort 38, lastUsed 40, lock 48,
    // flags 52, tcb 56–91.
    /// Immutable while the entry is published: the tuple as first seen.
    var original: TupleID
    /// Immutable while published: the redirect port (fills the tuple's tail).
    var natPort: UInt16
    /// Nanoseconds on the table's clock of the last packet; written only
    /// when it moves forward, so a flow whose packets share a (coarse or
    /// window) time writes the line once.
    let lastUsed: Atomic<Int64>
    /// The entry lock: a spinlock (0 free, 1 held) guarding `tcb` and the
    /// tracker bits of `flags`. Rank: connection.
    let lock: Atomic<UInt32>
    /// `FastEntry.Flags`: hook, UDP state, NAT, slot layout, published and
    /// the timeout class of the tracker state (so an expiry check needs no
    /// lock). Written under `lock` (tracker bits) or a stripe lock
    /// (published); read without a lock.
    let flags: Atomic<UInt32>
    /// protected by lock
    var tcb: TCB

    init() {
        original = TupleID(srcAddr: IPAddress(hi: 0, lo: 0), srcPort: 0, dstAddr: IPAddress(hi: 0, lo: 0), dstPort: 0,
                           transProto: .tcp, netProto: .ipv4)
        lastUsed = Atomic(0); lock = Atomic(0); flags = Atomic(0)
        natPort = 0; tcb = TCB()
    }

    /// Bits of `flags`.
    enum Flags {
        /// Bits 0–7: the hook that initialised the tracker.
        static let hookMask: UInt32 = 0xFF
        static let udpInitialised: UInt32 = 1 << 8
        static let udpReplied: UInt32 = 1 << 9
        /// The record's NAT flag (the packet carried a redirect).
        static let nat: UInt32 = 1 << 10
        /// In the index (set before the slots are stored, cleared after
        /// they are removed, both under the stripe locks).
        static let published: UInt32 = 1 << 11
        /// Bits 16–17: `SlotLayout`.
        static let layoutShift: UInt32 = 16
        /// Bits 24–27: the timeout class (`FastTable.timeoutValues` index).
        static let timeoutShift: UInt32 = 24
        static let timeoutMask: UInt32 = 0xF << 24
    }
}

/// How a connection's two tuples sit in the index.
enum SlotLayout: UInt32 {
    /// The reply is the reversed original (every non-NAT connection, and a
    /// LAND self-connection): one symmetric slot matches both directions.
    case symmetric = 0
    /// A NAT connection whose reply equals its original: one slot.
    case single = 1
    /// A NAT connection: an original-only slot and a reply-only slot.
    case pair = 2
}

extension UnsafeMutablePointer where Pointee == FastEntry {
    @inline(__always) var flagBits: UInt32 { pointee.flags.load(ordering: .acquiring) }

    @inline(__always) var layout: SlotLayout {
        SlotLayout(rawValue: (flagBits >> FastEntry.Flags.layoutShift) & 3).unsafelyUnwrapped
    }

    @inline(__always) var isPublished: Bool { flagBits & FastEntry.Flags.published != 0 }

    @inline(__always) var hook: Hook { Hook(rawValue: UInt8(truncatingIfNeeded: flagBits)).unsafelyUnwrapped }

    @inline(__always) var udpState: UDPState {
        let f = flagBits
        var u = UDPState()
        u.initialised = f & FastEntry.Flags.udpInitialised != 0
        u.replied = f & FastEntry.Flags.udpReplied != 0
        return u
    }

    /// Immutable while published: the redirect target a NAT reply comes
    /// from (in the segment's NAT side table). Preconditions: the NAT flag
    /// is set.
    @inline(__always) var natAddr: IPAddress { EntryPool.natAddress(of: self).pointee }

    /// The reply tuple (derived: the reversed original, or the redirect).
    @inline(__always) var reply: TupleID {
        pointee.flags.load(ordering: .relaxed) & FastEntry.Flags.nat != 0
            ? pointee.original.redirectedReply(to: natAddr, port: pointee.natPort)
            : pointee.original.reversed
    }

    /// The timeout the entry's tracker state has (`fixed`'s table).
    /// Preconditions: the entry lock is held, or the entry is unpublished.
    @inline(__always) func computedTimeout(_ t: Timeouts) -> Int64 {
        t.timeout(proto: pointee.original.transProto, tcb: pointee.tcb, udp: udpState)
    }
}

/// A worker's cache of free entry indexes, so that taking an entry costs
/// the pool lock once per `capacity` connections. It lives in the worker's
/// `WorkerContext`; `owner` names the table generation it was filled from,
/// so a context reused with another table never hands out a stale index.
struct EntryCache {
    static let capacity = 32
    var owner: UInt64 = 0
    var count = 0
    /// Popped from the end; refills store ascending indexes from the end
    /// down, so an empty table hands out 0, 1, 2, … (import order).
    var items = InlineArray<32, UInt32>(repeating: 0)
}
