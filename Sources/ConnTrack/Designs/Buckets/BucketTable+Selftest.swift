extension BucketTable {
    /// One thread inserts with the descending-lock-order fault (high
    /// bucket, then low), then a second reaps that connection from the
    /// lower bucket (low, then high): both orders of one bucket pair.
    /// `DesignTraits.lockOrderPairSelftest`.
    @Sendable static func lockOrderPairSelftest() -> String {
        let table = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed, faults: [.descendingLockOrder]))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        // A flow whose two tuples sit in different buckets.
        while table.bucketIndex(id) == table.bucketIndex(id.reversed) { id.srcPort &+= 1 }
        let flow = id
        LockOrderSelftest.inTurn({
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output),
                                   clock: VirtualClock(0), &ctx)
        }, {
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        })
        let left = table._checkInvariants(uniqueIDs: nil).connections
        return "selftest lock-order-pair: buckets \(table.bucketIndex(flow)) and \(table.bucketIndex(flow.reversed)) locked in both orders by two threads; \(left) connection(s) left"
    }
}
