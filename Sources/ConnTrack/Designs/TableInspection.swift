/// What a report shows of a table's structure, in the design's own terms.
public struct TableInspection: Sendable {
    /// What one slot is ("bucket", "slice"); nil when the design has none.
    public var slotName: String?
    /// Entries per slot right now (tuples per bucket list); empty when the
    /// design has no slots.
    public var slotLengths: [Int]
    /// What a lock stripe is ("bucket lock"); nil when there are none.
    public var stripeName: String?
    /// Contended acquisitions per lock stripe since the table was created.
    public var stripeContention: [UInt64]
    /// Tuples and connections in the table.
    public var tuples: Int
    public var connections: Int
    /// Removed connections whose memory is not freed yet (reclamation
    /// backlog).
    public var retiredNotFreed: Int = 0
    /// The most connections the table held at once (nil: not tracked).
    public var peakConnections: Int? = nil
    /// Memory the design maps itself, outside the allocator (so allocator
    /// statistics miss it), counted as far as it is in use: `fast`'s entry
    /// segments, home buckets and the overflow buckets it has taken.
    public var mappedBytes: Int = 0

    public init(slotName: String?, slotLengths: [Int], stripeName: String?, stripeContention: [UInt64],
                tuples: Int, connections: Int) {
        self.slotName = slotName; self.slotLengths = slotLengths; self.stripeName = stripeName
        self.stripeContention = stripeContention; self.tuples = tuples; self.connections = connections
    }

    /// The `k` most contended stripes as (index, contended acquisitions).
    public func hottestStripes(_ k: Int) -> [(index: Int, contended: UInt64)] {
        Array(stripeContention.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }
            .prefix(k).map { (index: $0.offset, contended: $0.element) })
    }
}
