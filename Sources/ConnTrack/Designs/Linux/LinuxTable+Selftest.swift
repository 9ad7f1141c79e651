extension LinuxTable {
    /// One thread confirms a connection whose tuples sit under two stripes
    /// with the descending-lock-order fault (high stripe, then low), then a
    /// second removes it through the collector (low, then high): both
    /// orders of one stripe pair. `DesignTraits.lockOrderPairSelftest`.
    @Sendable static func lockOrderPairSelftest() -> String {
        var cfg = TableConfig(buckets: 4096, hashSeed: 1, faults: [.descendingLockOrder])
        cfg.bucketsGiven = true
        let table = LinuxTable(cfg)
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        while table.stripeOf(id) == table.stripeOf(id.reversed) { id.srcPort &+= 1 }
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
        return "selftest lock-order-pair --design linux: stripes \(table.stripeOf(flow)) and \(table.stripeOf(flow.reversed)) locked in both orders by two threads; \(left) connection(s) left"
    }
}
