/// Every place where `seed2020`, `fixed` and the injected faults differ,
/// resolved once at table creation. The table code branches on these
/// constants and on nothing else.
public struct TableRules: Sendable, Equatable {
    /// Walks advance with `next` after removing the current element, whose
    /// links the removal cleared, so the walk stops at the first reap.
    public var walkStopsAfterRemove: Bool
    /// Insert looks for an existing tuple under the bucket locks first.
    public var recheckBeforeInsert: Bool
    /// The packet that creates a connection initialises its tracker.
    public var trackerSeesCreatingPacket: Bool
    /// The packet path reads the clock twice (lookup and `lastUsed`), as
    /// the seed's two `time.Now()` calls do; otherwise once.
    public var readsClockTwice: Bool
    /// The tracker is told the segment's payload length. The seed hands it
    /// `header.TCP(pkt.TransportHeader)`, the header alone, so its tracker
    /// sees no data (payload 0); `fixed` takes the length from the IP
    /// header.
    public var trackerSeesPayload: Bool
    /// A tuple id appears at most once in the table: the re-check before
    /// insert guarantees it. Without it a missed lookup inserts a second
    /// connection for the same flow, so duplicates are the 2020 design's
    /// behaviour, not corruption.
    public var uniqueTupleIDs: Bool { recheckBeforeInsert }
    public var descendingInsertLocks: Bool
    public var skipPartnerBucketLock: Bool
    public var recomputePartnerByReversing: Bool

    /// A reaper pass can be predicted by a read-only scan and so split
    /// across the workers waiting at a boundary (`scanForReap`): the fixed
    /// walk with no fault that changes what it visits or locks.
    public var walkIsScannable: Bool { !walkStopsAfterRemove && !recomputePartnerByReversing && !skipPartnerBucketLock }

    public init(variant: Variant, faults: Set<Fault> = []) {
        switch variant {
        case .seed2020:
            walkStopsAfterRemove = true
            recheckBeforeInsert = false
            trackerSeesCreatingPacket = false
            readsClockTwice = true
            trackerSeesPayload = false
        case .fixed:
            walkStopsAfterRemove = faults.contains(.walkAfterRemove)
            recheckBeforeInsert = true
            trackerSeesCreatingPacket = true
            readsClockTwice = false
            trackerSeesPayload = true
        }
        descendingInsertLocks = faults.contains(.descendingLockOrder)
        skipPartnerBucketLock = faults.contains(.skipBucketLock)
        recomputePartnerByReversing = faults.contains(.recomputeNatPartner)
    }
}
