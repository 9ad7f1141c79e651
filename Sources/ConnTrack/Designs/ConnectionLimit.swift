import struct Synchronization.Atomic

/// A limit on live connections with early drop, for the designs that keep
/// one (`buckets`, `fast`): the live count, counting inserts in flight (a
/// place is reserved before the insert and given back if it does not
/// happen), and the most connections at once. Kept only when a limit is
/// set: an always-on shared counter per insert cost about 5 % on churn,
/// which would distort the design being measured.
struct ConnectionLimit: ~Copyable {
    /// immutable: Int.max when there is no limit
    let max: Int
    /// Live connections plus inserts in flight (only with a limit).
    let live = Atomic<Int>(0)
    /// The largest `live` after an insert: the true peak, up to other
    /// workers' inserts in flight at that moment.
    let peak = Atomic<Int>(0)

    init(_ max: Int?) { self.max = max ?? Int.max }

    @inline(__always) var enabled: Bool { max != Int.max }

    /// Takes one of the `max` places before an insert, calling `earlyDrop`
    /// while the table is full (a successful drop gives a place back), so
    /// concurrent inserts can never overshoot the limit. False: full, and
    /// nothing could be dropped.
    @inline(__always)
    func reserve(_ earlyDrop: () -> Bool) -> Bool {
        guard enabled else { return true }
        while true {
            var cur = live.load(ordering: .relaxed)
            while cur < max {
                let (done, seen) = live.compareExchange(expected: cur, desired: cur + 1, ordering: .relaxed)
                if done { return true }
                cur = seen
            }
            if !earlyDrop() { return false }
        }
    }

    /// Gives `n` places back: removals, or reserved inserts that did not happen.
    @inline(__always)
    func release(_ n: Int = 1) {
        if enabled { live.subtract(n, ordering: .relaxed) }
    }

    /// After an insert: raises the peak to the live count.
    @inline(__always)
    func noteInserted() {
        guard enabled else { return }
        let n = live.load(ordering: .relaxed)
        var p = peak.load(ordering: .relaxed)
        while n > p {
            let (done, seen) = peak.compareExchange(expected: p, desired: n, ordering: .relaxed)
            if done { return }
            p = seen
        }
    }

    /// Refuses an import of more than `max` connections.
    func checkImport(_ n: Int) throws(ImportError) {
        if enabled && n > max { throw ImportError(record: max, reason: "more connections (\(n)) than --max-connections \(max)") }
    }

    /// After an import of `n` connections into an empty table: counts them.
    func noteImported(_ n: Int) {
        guard enabled else { return }
        live.store(n, ordering: .relaxed)
        noteInserted()
    }

    /// The peak for a report (nil without a limit).
    var peakConnections: Int? { enabled ? peak.load(ordering: .relaxed) : nil }

    /// A violation when the live count disagrees with `connections` found.
    func check(connections: Int) -> String? {
        guard enabled, live.load(ordering: .relaxed) != connections else { return nil }
        return "live counter \(live.load(ordering: .relaxed)) != connections \(connections)"
    }
}
