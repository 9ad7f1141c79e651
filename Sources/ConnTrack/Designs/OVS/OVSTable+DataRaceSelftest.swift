extension OVSTable {
    /// skip-conn-mutex: two threads update one connection without its
    /// mutex. `DesignTraits.dataRacePairSelftest`.
    @Sendable static func dataRacePairSelftest() -> String {
        _ = DataRaceSelftest.sameConnection(OVSTable(TableConfig(buckets: 64, hashSeed: 1, faults: [.skipConnMutex])))
        return "selftest data-race-pair --design ovs: two threads updated one connection without its mutex"
    }
}
