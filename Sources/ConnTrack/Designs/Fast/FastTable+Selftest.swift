extension FastTable {
    /// One thread inserts a NAT connection whose two slots sit under two
    /// stripes with the descending-lock-order fault (high stripe, then
    /// low), then a second reaps it (low, then high).
    /// `DesignTraits.lockOrderPairSelftest`.
    @Sendable static func lockOrderPairSelftest() -> String {
        var cfg = TableConfig(buckets: 64, hashSeed: 1, faults: [.descendingLockOrder])
        cfg.expectedConnections = 4096
        let table = FastTable(cfg)
        let target = (IPAddress(v4: 0xAC10_0009), UInt16(9999))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        // A NAT connection whose two slots sit under different stripes.
        while table.stripeOf(id) == table.stripeOf(id.redirectedReply(to: target.0, port: target.1)) { id.srcPort &+= 1 }
        let flow = id
        LockOrderSelftest.inTurn({
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output, nat: target),
                                   clock: VirtualClock(0), &ctx)
        }, {
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        })
        let left = table._checkInvariants(uniqueIDs: nil).connections
        return "selftest lock-order-pair --design fast: stripes \(table.stripeOf(flow)) and \(table.stripeOf(flow.redirectedReply(to: target.0, port: target.1))) locked in both orders by two threads; \(left) connection(s) left"
    }
}
