import struct Synchronization.Atomic

// The expiry lists and the connection block's fields this design gives a
// meaning of its own (docs/ovs-design.md):
//
// - `original.next` / `original.prev`: the links of the expiry list the
//   connection is on (the other designs' bucket-list links; this design has
//   no bucket lists). Written under ct_lock. `next` and a list's head are
//   also read without it, by the sweeper (as OVS's rculists are): they are
//   written with atomic release stores, and a connection taken off its
//   list keeps its `next`, so a sweeper standing on it walks on.
// - `serial`: the list index in the top byte (`unlisted` once removed:
//   OVS's `conn->cleaned`), the insertion serial below. Protected by ct_lock.
// - `designBits`: OVS state bits (`OVSBits`). Protected by the connection lock.
// - `designWord`: the expiration, an atomic (OVSTable+Expiration.swift).

/// Per-connection OVS state kept in the connection block's `designBits`.
enum OVSBits {
    /// UDP: a second packet came in the original direction before any
    /// reply (OVS's `OTHERS_MULTIPLE`).
    static let udpMultiple: UInt8 = 1
}

extension OVSTable {
    static let unlisted = 0xFF
    static let serialMask: UInt64 = (1 << 56) - 1

    /// The next connection on c's list. Preconditions: ct_lock is held.
    @inline(__always)
    static func next(_ c: UnsafeMutablePointer<ConnNode>) -> UnsafeMutablePointer<ConnNode>? {
        c.pointee.original.next?.pointee.conn
    }

    /// c's `original.next` as an atomic word (0: none).
    @inline(__always)
    static func nextWord(_ c: UnsafeMutablePointer<ConnNode>) -> UnsafeMutablePointer<Atomic<UInt>> {
        (UnsafeMutableRawPointer(c.originalPtr) + MemoryLayout<TupleNode>.offset(of: \.next)!)
            .assumingMemoryBound(to: Atomic<UInt>.self)
    }

    /// The first connection of list l. Preconditions: ct_lock is held.
    @inline(__always)
    func head(_ l: Int) -> UnsafeMutablePointer<ConnNode>? {
        Self.connection(heads[l].load(ordering: .relaxed))
    }

    /// The connection a list word points at.
    @inline(__always)
    static func connection(_ word: UInt) -> UnsafeMutablePointer<ConnNode>? {
        UnsafeMutablePointer<ConnNode>(bitPattern: word)
    }

    /// The first connection of list l, read without ct_lock (an rculist's
    /// `RCULIST_FOR_EACH`). Preconditions: the caller is a walk
    /// (`reclaimer.epochs.walkBegin`) or holds ct_lock.
    @inline(__always)
    func walkHead(_ l: Int) -> UnsafeMutablePointer<ConnNode>? {
        Self.connection(heads[l].load(ordering: .acquiring))
    }

    /// The connection after c, read without ct_lock: c's successor when c
    /// was taken off its list, if it was. Preconditions: as `walkHead`.
    @inline(__always)
    static func walkNext(_ c: UnsafeMutablePointer<ConnNode>) -> UnsafeMutablePointer<ConnNode>? {
        let t = UnsafeMutablePointer<TupleNode>(bitPattern: nextWord(c).pointee.load(ordering: .acquiring))
        return t?.pointee.conn
    }

    /// Sets c's next link. Preconditions: ct_lock is held.
    @inline(__always)
    static func setNext(_ c: UnsafeMutablePointer<ConnNode>, _ n: UnsafeMutablePointer<ConnNode>?) {
        nextWord(c).pointee.store(UInt(bitPattern: n?.originalPtr), ordering: .releasing)
    }

    /// Sets list l's head. Preconditions: ct_lock is held.
    @inline(__always)
    func setHead(_ l: Int, _ c: UnsafeMutablePointer<ConnNode>?) {
        heads[l].store(UInt(bitPattern: c), ordering: .releasing)
    }

    /// OVS's `N_EXP_LISTS`: new connections go to these lists in turn.
    static var expiryListCount: Int { 100 }

    /// The list c is on, or `unlisted`. Preconditions: ct_lock is held.
    @inline(__always)
    func listIndex(_ c: UnsafeMutablePointer<ConnNode>) -> Int { Int(truncatingIfNeeded: c.pointee.serial &>> 56) }

    /// Preconditions: ct_lock is held.
    @inline(__always)
    func setListIndex(_ c: UnsafeMutablePointer<ConnNode>, _ l: Int) {
        c.pointee.serial = (c.pointee.serial & Self.serialMask) | UInt64(l) &<< 56
    }

    /// Puts c at the head of the next list in turn (OVS's
    /// `conn_expire_push_front` with `next_list`). Preconditions: ct_lock
    /// is held; c is on no list.
    func pushFrontInTurn(_ c: UnsafeMutablePointer<ConnNode>) {
        pushFront(c, nextList)
        nextList = (nextList + 1) % Self.expiryListCount
    }

    /// Puts c at the head of list `l`. Preconditions: ct_lock is held; c is
    /// on no list.
    func pushFront(_ c: UnsafeMutablePointer<ConnNode>, _ l: Int) {
        assert(listIndex(c) == Self.unlisted, "a connection on a list is pushed again")
        let h = head(l)
        c.pointee.original.prev = nil
        Self.setNext(c, h)
        if let h { h.pointee.original.prev = c.originalPtr } else { lists[l].tail = c }
        // Published with c's links in place.
        setHead(l, c)
        lists[l].count += 1
        setListIndex(c, l)
    }

    /// Takes c off its list (`rculist_remove`): c keeps its next link,
    /// which a sweeper standing on c follows. Preconditions: ct_lock is
    /// held; c is on a list.
    func unlink(_ c: UnsafeMutablePointer<ConnNode>) {
        let l = listIndex(c)
        assert(l != Self.unlisted, "an unlisted connection is unlinked")
        let prev = c.pointee.original.prev?.pointee.conn
        let next = Self.next(c)
        if let p = prev { Self.setNext(p, next) } else { setHead(l, next) }
        if let n = next { n.pointee.original.prev = prev?.originalPtr } else { lists[l].tail = prev }
        c.pointee.original.prev = nil
        lists[l].count -= 1
        setListIndex(c, Self.unlisted)
    }

    /// The connection after c in the order the sweeper walks (its list, then
    /// the following lists), with that connection's list. Preconditions:
    /// ct_lock is held.
    func successor(_ c: UnsafeMutablePointer<ConnNode>, list l: Int) -> (UnsafeMutablePointer<ConnNode>, Int)? {
        if let n = Self.next(c) { return (n, l) }
        return first(from: l + 1)
    }

    /// The first connection of list `l` or of a later one. Preconditions: ct_lock is held.
    func first(from l: Int) -> (UnsafeMutablePointer<ConnNode>, Int)? {
        var i = l
        while i < Self.expiryListCount {
            if let h = head(i) { return (h, i) }
            i += 1
        }
        return nil
    }

    /// A timeout change of c, whose new expiration is already in place:
    /// OVS 3.x's `conn_update_expiration` (tp.c:241) stores it under the
    /// connection's mutex alone and moves it to no list. With the injected
    /// `ct-lock-after-conn` fault, ct_lock is taken here under that mutex
    /// (as if the change still had a list to move to, in the wrong order).
    /// Preconditions: the `ct-lock-after-conn` fault is injected (without it
    /// there is nothing to do, and the caller does not compute the change);
    /// c's lock is held (taken by `lockConnection`); it is held on return.
    func expirationChanged(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) {
        assert(ctLockAfterConn, "a timeout change handled without the fault that acts on it")
        lockCT(&ctx)
        unlockCT(&ctx)
    }
}
