extension LinuxTable {
    /// The chain heads and the stripe locks, allocated up front; per
    /// connection its 64-byte aligned block; per bucket a leaf of the sweep
    /// summary and the report's arrays; what the invariant check (node,
    /// connection and tuple sets) and export's ordering hold per connection.
    public static func estimatedBytes(_ config: TableConfig, connections n: Int, threads: Int) -> Int {
        typealias F = MemoryFootprint
        let b = size(config)
        var bytes = F.heapBlock(b * 8) + F.heapBlock(stripeCount * MemoryLayout<Stripe>.stride)
        bytes += n * F.heapBlock(LinuxConn.Layout.stride, alignment: 64)
        bytes += F.sweepSummary(leaves: b) + F.inspection(slots: b) + F.array(stripeCount, stride: 8)
        bytes += F.hashTable(2 * n, stride: 8) + F.hashTable(n, stride: 8)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<TupleID>.stride)
        bytes += 3 * F.grownArray(2 * n, stride: 8)
        return bytes
    }
}
