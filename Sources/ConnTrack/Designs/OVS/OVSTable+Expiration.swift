import struct Synchronization.Atomic

// A connection's expiration, kept as OVS keeps `conn->expiration`: one
// atomic word in the block (`designWord`), set under the connection's
// mutex whenever the tracker refreshes it (`conn_update_expiration`), and
// read without any lock by lookups, the insert's second lookup under
// ct_lock, and the sweeper (`conn_expired`).
//
// OVS keeps time in whole milliseconds (`time_msec`): the expiration is the
// millisecond it was set in plus the timeout, and a time is compared at
// its millisecond.
extension OVSTable {
    /// c's expiration as an atomic word.
    @inline(__always)
    static func expirationWord(_ c: UnsafeMutablePointer<ConnNode>) -> UnsafeMutablePointer<Atomic<Int64>> {
        UnsafeMutableRawPointer(c.pointer(to: \.designWord)!).assumingMemoryBound(to: Atomic<Int64>.self)
    }

    /// The expiration c's `lastUsed` and the timeout its state gives make.
    /// Preconditions: c's lock is held, or c is not yet in the table.
    @inline(__always)
    func dueExpiration(_ c: UnsafeMutablePointer<ConnNode>) -> Int64 {
        Self.millisecond(c.pointee.lastUsed) &+ timeout(c)
    }

    /// Sets c's expiration to `dueExpiration`. Preconditions: as there.
    @inline(__always)
    func setExpiration(_ c: UnsafeMutablePointer<ConnNode>) {
        Self.expirationWord(c).pointee.store(dueExpiration(c), ordering: .relaxed)
    }

    /// Nanoseconds until c's expiration, from now's millisecond. A
    /// connection is expired from its expiration on (`conn_expired`: `now
    /// >= expiration`), so at 0 already: see `expired`. Needs no lock (c is
    /// not freed: in the table, or retired while the caller may still see it).
    @inline(__always)
    func remaining(_ c: UnsafeMutablePointer<ConnNode>, now: Int64) -> Int64 {
        Self.expirationWord(c).pointee.load(ordering: .relaxed) &- Self.millisecond(now)
    }

    /// OVS's `conn_expired` on a time left by `remaining`.
    @inline(__always)
    static func expired(_ remaining: Int64) -> Bool { remaining <= 0 }

    /// The start of t's millisecond.
    @inline(__always)
    static func millisecond(_ t: Int64) -> Int64 {
        let r = t % 1_000_000
        return r < 0 ? t - r - 1_000_000 : t - r
    }

    /// `lastUsed` of a connection expired on the spot (`conn_force_expire`
    /// sets the expiration to 0): before any time plus any timeout.
    static var forcedExpiry: Int64 { Int64.min / 4 }
}
