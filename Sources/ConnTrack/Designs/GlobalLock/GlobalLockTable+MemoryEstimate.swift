extension GlobalLockTable {
    /// `--buckets` sizes nothing here. Per connection: its 64-byte aligned
    /// block; two map entries (tuple id and pointer); two leaves of the
    /// sweep summary, which has one per map entry; the reaper's victims,
    /// the invariant check's set and the export's sorted list.
    public static func estimatedBytes(_ config: TableConfig, connections n: Int, threads: Int) -> Int {
        typealias F = MemoryFootprint
        let pointer = MemoryLayout<UnsafeMutablePointer<ConnNode>>.stride
        var bytes = n * F.heapBlock(MemoryLayout<ConnNode>.stride, alignment: 64)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<TupleID>.stride + MemoryLayout<UnsafeMutablePointer<TupleNode>>.stride)
        bytes += F.sweepSummary(leaves: 2 * n)
        bytes += F.grownArray(n, stride: pointer)
        bytes += F.hashTable(n, stride: pointer)
        bytes += F.grownArray(n, stride: pointer) + 2 * F.array(n, stride: pointer)
        return bytes
    }
}
