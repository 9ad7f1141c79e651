import Sync

extension OVSTable {
    /// With the `ct-lock-after-conn` fault, one thread's UDP reply changes
    /// its connection's timeout and takes ct_lock while it holds the
    /// connection mutex; a second thread's export holds ct_lock and reads
    /// each connection under its mutex. `DesignTraits.lockOrderPairSelftest`.
    @Sendable static func lockOrderPairSelftest() -> String {
        var cfg = TableConfig(buckets: 64, hashSeed: 1, faults: [.ctLockAfterConn])
        cfg.maxConnections = 4096
        let table = OVSTable(cfg)
        let id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 53, transProto: .udp, netProto: .ipv4)
        LockOrderSelftest.inTurn({
            var ctx = WorkerContext(name: "packets", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: id, hook: .output), clock: VirtualClock(0), &ctx)
            _ = table.handlePacket(Packet(id: id.reversed, hook: .prerouting), clock: VirtualClock(Duration_ns.second), &ctx)
        }, {
            table.forEachConnection(now: 2 * Duration_ns.second) { _ in }
        })
        let left = table._checkInvariants(uniqueIDs: nil).connections
        return "selftest lock-order-pair --design ovs: ct_lock and a connection mutex locked in both orders by two threads; \(left) connection(s) left"
    }
}
