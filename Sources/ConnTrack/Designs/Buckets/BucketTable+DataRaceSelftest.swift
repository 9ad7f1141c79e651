extension BucketTable {
    /// skip-bucket-lock: a reaper pass over one bucket removes a connection
    /// and unlinks its reply from the partner's list without that list's
    /// lock; another thread's pass, while the first holds the table's read
    /// lock (whose release would order them), removes a second connection
    /// with its reply in that list, reading the link the first rewrote.
    /// `DesignTraits.dataRacePairSelftest`.
    @Sendable static func dataRacePairSelftest() -> String {
        let table = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed, faults: [.skipBucketLock]))
        let (a, b, high) = DataRaceSelftest.partnerList(table, slot: table.bucketIndex,
                                                           pause: { table.afterUnlockedPartnerEdit = $0 })
        return "selftest data-race-pair: passes over buckets \(a) and \(b) on two threads each edited bucket \(high)'s list without its lock"
    }
}
