import struct Synchronization.Atomic

/// One connection of the `fast` design: a slot in a preallocated pool,
/// addressed by a 32-bit index. A slot is the connection's tuple area, its
/// three atomic words, then its tracker; an entry pointer points at the
/// tracker, with the words and the tuple before it (`EntryLayout`):
///
/// - wide (96 bytes, any tuple): original 0–37, natPort 38, lastUsed 40,
///   lock 48, flags 52, tcb 56–91;
/// - compact (`--ipv4-only`, 72 bytes): IPv4 addresses 0–7, ports 8–11,
///   transport 12, natPort 14, lastUsed 16, lock 24, flags 28, tcb 32–67.
///
/// A lookup reads the tuple, `lastUsed` and the flags: the first 56 (wide)
/// or 32 (compact) bytes of the slot. The tracker is the struct's only
/// stored property, so the address ThreadSanitizer keys a Swift access to
/// the entry on is the tracker's, which only its lock's holder touches.
/// A NAT connection's redirect address sits out of line, in its segment's
/// NAT side table (`EntryPool.natAddress`), so connections without NAT do
/// not pay for it. The entry never moves while it is published, and it is
/// reused only after every worker has passed a quiescent point since its
/// removal, so a reader that found its index in a slot may read its tuple
/// without a lock.
struct FastEntry: ~Copyable {
    /// protected by the entry lock (`lockWord`)
    var tcb: TCB

    init() { tcb = TCB() }

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
        /// The slot is compact (`EntryLayout.compact`): set by the table
        /// for every entry it fills, immutable while published.
        static let compact: UInt32 = 1 << 12
        /// Bits 16–17: `SlotLayout`.
        static let layoutShift: UInt32 = 16
        /// Bits 24–27: the timeout class (`FastTable.timeoutValues` index).
        static let timeoutShift: UInt32 = 24
        static let timeoutMask: UInt32 = 0xF << 24
    }
}

/// The tuple area before an entry's header.
enum EntryLayout {
    /// Any tuple, inline: 40 bytes of tuple and NAT port, a 96-byte slot.
    case wide
    /// IPv4 tuples only (`--ipv4-only`): 16 bytes, a 72-byte slot.
    case compact

    /// Bytes of the tuple area (the atomic words follow, 8-byte aligned).
    var tupleBytes: Int { self == .wide ? 40 : 16 }
    /// Where the entry (its tracker) starts in the slot: after the tuple
    /// area and the 16 bytes of `lastUsed`, lock and flags.
    var entryOffset: Int { tupleBytes + 16 }
    /// Bytes of a slot.
    var stride: Int { (entryOffset + MemoryLayout<TCB>.size + 7) & ~7 }

    /// Whether a compact slot can hold `id` (an IPv4 tuple).
    @inline(__always)
    static func fitsCompact(_ id: TupleID) -> Bool {
        id.netProto == .ipv4 && id.srcAddr.lo == 0 && id.dstAddr.lo == 0
            && id.srcAddr.hi & 0xFFFF_FFFF == 0 && id.dstAddr.hi & 0xFFFF_FFFF == 0
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
    /// Nanoseconds on the table's clock of the last packet; written only
    /// when it moves forward, so a flow whose packets share a (coarse or
    /// window) time writes the line once.
    @inline(__always) var lastUsedWord: UnsafeMutablePointer<Atomic<Int64>> {
        (UnsafeMutableRawPointer(self) - 16).assumingMemoryBound(to: Atomic<Int64>.self)
    }

    /// The entry lock: a spinlock (0 free, 1 held) guarding `tcb` and the
    /// tracker bits of the flags. Rank: connection.
    @inline(__always) var lockWord: UnsafeMutablePointer<Atomic<UInt32>> {
        (UnsafeMutableRawPointer(self) - 8).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    /// `FastEntry.Flags`: hook, UDP state, NAT, slot layout, published,
    /// compact and the timeout class of the tracker state (so an expiry
    /// check needs no lock). Written under the entry lock (tracker bits) or
    /// a stripe lock (published); read without a lock.
    @inline(__always) var flagsWord: UnsafeMutablePointer<Atomic<UInt32>> {
        (UnsafeMutableRawPointer(self) - 4).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    @inline(__always) var isCompact: Bool { flagsWord.pointee.load(ordering: .relaxed) & FastEntry.Flags.compact != 0 }

    /// Immutable while the entry is published: the tuple as first seen.
    @inline(__always) var original: TupleID {
        let r = UnsafeRawPointer(self)
        if !isCompact { return (r - 56).load(as: TupleID.self) }
        let t = r - 32
        return TupleID(srcAddr: IPAddress(v4: t.load(as: UInt32.self)), srcPort: t.load(fromByteOffset: 8, as: UInt16.self),
                       dstAddr: IPAddress(v4: t.load(fromByteOffset: 4, as: UInt32.self)),
                       dstPort: t.load(fromByteOffset: 10, as: UInt16.self),
                       transProto: TransProto(rawValue: t.load(fromByteOffset: 12, as: UInt8.self)).unsafelyUnwrapped,
                       netProto: .ipv4)
    }

    /// Stores the tuple in the tuple area of `layout`. Preconditions: the
    /// entry is unpublished; a compact layout's tuple fits it.
    @inline(__always) func setOriginal(_ id: TupleID, _ layout: EntryLayout) {
        let r = UnsafeMutableRawPointer(self)
        switch layout {
        case .wide: (r - 56).storeBytes(of: id, as: TupleID.self)
        case .compact:
            let t = r - 32
            t.storeBytes(of: id.srcAddr.v4, as: UInt32.self)
            t.storeBytes(of: id.dstAddr.v4, toByteOffset: 4, as: UInt32.self)
            t.storeBytes(of: id.srcPort, toByteOffset: 8, as: UInt16.self)
            t.storeBytes(of: id.dstPort, toByteOffset: 10, as: UInt16.self)
            t.storeBytes(of: id.transProto.rawValue, toByteOffset: 12, as: UInt8.self)
        }
    }

    /// Immutable while published: the redirect port (the tuple area's last
    /// two bytes in either layout).
    @inline(__always) var natPort: UInt16 {
        get { (UnsafeRawPointer(self) - 18).load(as: UInt16.self) }
        nonmutating set { (UnsafeMutableRawPointer(self) - 18).storeBytes(of: newValue, as: UInt16.self) }
    }

    @inline(__always) var flagBits: UInt32 { flagsWord.pointee.load(ordering: .acquiring) }

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
        flagsWord.pointee.load(ordering: .relaxed) & FastEntry.Flags.nat != 0
            ? original.redirectedReply(to: natAddr, port: natPort)
            : original.reversed
    }

    /// The timeout the entry's tracker state has (`fixed`'s table).
    /// Preconditions: the entry lock is held, or the entry is unpublished.
    @inline(__always) func computedTimeout(_ t: Timeouts) -> Int64 {
        t.timeout(proto: original.transProto, tcb: pointee.tcb, udp: udpState)
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
