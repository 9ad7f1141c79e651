extension FastTable {
    /// skip-entry-lock: two threads update one connection's tracker without
    /// its entry lock. `DesignTraits.dataRacePairSelftest`.
    @Sendable static func dataRacePairSelftest() -> String {
        var cfg = TableConfig(buckets: 64, hashSeed: 1, faults: [.skipEntryLock])
        cfg.expectedConnections = 4096
        _ = DataRaceSelftest.sameConnection(FastTable(cfg))
        return "selftest data-race-pair --design fast: two threads updated one connection's tracker without its entry lock"
    }
}
