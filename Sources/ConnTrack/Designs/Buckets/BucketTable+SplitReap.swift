// A pass split across the workers waiting at a lock-step boundary (the
// `fixed` walk only): the scan predicts, without a lock and without a
// change, what `walk` will count in each bucket of the pass. Unlike `fast`'s
// slots, buckets are not independent: an expired connection is removed
// where the walk meets it first if lock order allows (its other tuple's
// bucket is not lower), and its other tuple is then gone when the walk
// reaches that bucket. The scan follows the same rule from each tuple's
// position in the pass.
extension BucketTable {
    public var scansForReap: Bool { rules.walkIsScannable }

    /// A removal leaves its partner bucket's summary leaf low (a minimum
    /// cannot be undone), and the walk recounts every bucket it walked: a
    /// split pass, walking only the buckets with something to remove,
    /// would leave leaves low that the walk makes exact.
    public var splitPassKeepsSummary: Bool { false }

    /// Preconditions: as for `ConnTrackTable.scanForReap`; `range` within
    /// one table's worth of buckets from `start` (each bucket once).
    public func scanForReap(start: Int, range: Range<Int>, now: Int64,
                            into tallies: UnsafeMutableBufferPointer<ReapSlotTally>) {
        let count = bucketCount
        precondition(scansForReap && tallies.count >= range.count && range.upperBound <= count,
                     "scanForReap: a scannable walk and at most one pass over the table")
        let origin = start % count
        for k in range {
            let b = (origin &+ k) % count
            var t = ReapSlotTally()
            var node = bucketPtr(b).pointee.head
            while let x = node {
                node = x.pointee.next
                let r = timeRemaining(x.pointee.conn, timeouts, now: now)
                if r >= 0 {
                    t.checked += 1
                    t.liveChecked += 1
                    t.remainingSum += Int128(r)
                    continue
                }
                let p = partnerBucket(x)
                if p == b {
                    // Both tuples here: the first the walk meets removes both.
                    guard Self.follows(x.partner, x) else { continue }
                } else if p < b && (p &- origin &+ count) % count < k {
                    // The walk met the other tuple first, in a bucket lower
                    // than this one, and removed the connection there.
                    continue
                }
                t.checked += 1
                t.expired += 1
                // Locking the lower bucket from here would break the order.
                if p < b { t.deferred += 1 }
            }
            tallies[k - range.lowerBound] = t
        }
    }

    /// Whether `later` comes after `x` in x's chain.
    private static func follows(_ later: UnsafeMutablePointer<TupleNode>, _ x: UnsafeMutablePointer<TupleNode>) -> Bool {
        var n = x.pointee.next
        while let y = n {
            if y == later { return true }
            n = y.pointee.next
        }
        return false
    }

    /// `walk` returns the bucket after the last one it walked (not wrapped).
    public func reapNextStart(start: Int, scanned: Int) -> Int { (start &+ scanned &- 1) % bucketCount + 1 }
}
