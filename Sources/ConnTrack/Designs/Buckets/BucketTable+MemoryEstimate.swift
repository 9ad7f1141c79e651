extension BucketTable {
    /// Per bucket: the bucket (mutex, list head, length, contention
    /// counter), initialised up front; a leaf and two tree nodes of the
    /// sweep summary; the report's per-bucket arrays. Per connection: its
    /// 64-byte aligned block, and what the end-of-run invariant check holds
    /// (every tuple in a set and in a map by id, every connection in a set)
    /// with the connection list the inspection builds.
    public static func estimatedBytes(_ config: TableConfig, connections n: Int, threads: Int) -> Int {
        typealias F = MemoryFootprint
        let b = config.buckets
        var bytes = F.heapBlock(b * MemoryLayout<Bucket>.stride)
        bytes += F.sweepSummary(leaves: b)
        bytes += F.inspection(slots: b)
        bytes += n * F.heapBlock(MemoryLayout<ConnNode>.stride, alignment: 64)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<UnsafeMutablePointer<TupleNode>>.stride)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<TupleID>.stride + MemoryLayout<UnsafeMutablePointer<ConnNode>>.stride)
        bytes += F.hashTable(n, stride: MemoryLayout<UnsafeMutablePointer<ConnNode>>.stride)
        bytes += F.grownArray(n, stride: MemoryLayout<Connection>.stride)
        return bytes
    }
}
