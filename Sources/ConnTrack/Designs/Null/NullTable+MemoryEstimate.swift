extension NullTable {
    /// No table: nothing per bucket or connection (its one sweep slot has
    /// an empty summary).
    public static func estimatedBytes(_ config: TableConfig, connections: Int, threads: Int) -> Int { 0 }
}
