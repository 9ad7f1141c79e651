extension FastTable {
    /// The index is anonymous memory that is resident only where touched:
    /// every home bucket is counted, and of the overflow area what chains
    /// take: a chain takes an overflow bucket only when all its slots are
    /// full, so one per 7 slots it holds at once (a connection has at most
    /// two), counted as if every chain peaked together.
    /// Entries come in 2 MiB segments for the connections, the workers'
    /// caches (the reaper's and an import's too) and a segment's worth of
    /// removed entries not recycled yet. Per slice: the sweep summary. Per
    /// home bucket: the report's chain lengths. Per connection: the
    /// invariant check's slot counts and tuple-id set, and the reclaimer's
    /// lists of removed entries.
    public static func estimatedBytes(_ config: TableConfig, connections n: Int, threads: Int) -> Int {
        typealias F = MemoryFootprint
        let (home, overflowCapacity) = size(config)
        let bucket = slotsPerBucket * 8 + 8
        var bytes = F.touchedPages(home * bucket)
        bytes += F.touchedPages(min(overflowCapacity, (2 * n + slotsPerBucket - 1) / slotsPerBucket) * bucket)
        let stripes = min(home, maxStripes)
        bytes += F.heapBlock(stripes * MemoryLayout<Stripe>.stride)
        bytes += F.heapBlock(EntryPool.maxSegments * MemoryLayout<UnsafeMutablePointer<FastEntry>?>.stride)
        let entries = n + (threads + 2) * EntryCache.capacity
        let layout: EntryLayout = config.ipv4Only ? .compact : .wide
        let perSegment = (EntryPool.segmentBytes - 8) / layout.stride
        let segments = (entries + perSegment - 1) / perSegment + 1
        // Each segment, and its NAT side table (mapped on a segment's first
        // NAT connection; counted for every segment).
        bytes += segments * (EntryPool.segmentBytes + F.touchedPages(perSegment * MemoryLayout<IPAddress>.stride))
        bytes += F.sweepSummary(leaves: config.buckets)
        bytes += F.inspection(slots: home) + F.array(stripes, stride: 8)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<UInt32>.stride + MemoryLayout<Int>.stride)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<TupleID>.stride)
        bytes += 3 * F.grownArray(n, stride: MemoryLayout<UInt32>.stride)
        return bytes
    }
}
