extension LinuxTable {
    /// skip-bucket-lock: a collector pass removes a connection and unlinks
    /// its reply node without the reply chain's stripe lock, clearing the
    /// node's back link; another thread then reads that link without a
    /// lock, as a chain walker would. (Two table operations in turn were
    /// not reported by this ThreadSanitizer however they were ordered
    /// (measured: an insert in front of the node, the removal of the node
    /// after it); run at once, as in a stress run, they are, but only when
    /// they meet.) `DesignTraits.dataRacePairSelftest`.
    @Sendable static func dataRacePairSelftest() -> String {
        var cfg = TableConfig(buckets: 64, hashSeed: 1, faults: [.skipBucketLock])
        cfg.bucketsGiven = true
        let table = LinuxTable(cfg)
        var flow = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                           dstPort: 80, transProto: .tcp, netProto: .ipv4)
        while table.bucket(flow) >= table.bucket(flow.reversed) || table.stripeOf(flow) == table.stripeOf(flow.reversed) {
            flow.srcPort &+= 1
        }
        var ctx = WorkerContext(name: "setup", checkLockOrder: false)
        _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output), clock: VirtualClock(0), &ctx)
        let (low, high) = (table.bucket(flow), table.bucket(flow.reversed))
        // The reply node: the first (only) node of `high`'s chain.
        let link = table.ht.heads[high].load(ordering: .relaxed)
        precondition(link & 1 == 0 && LinuxConn.direction(link) == 1, "the reply node heads bucket \(high)")
        let reply = LinuxConnRef(LinuxConn(link: link))
        DataRaceSelftest.unordered({ _ in
            var ctx = WorkerContext(name: "collector", checkLockOrder: false)
            _ = table.reapPass(start: low, maxSlots: 1, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        }, {
            // A plain read of the link the removal wrote without the lock.
            precondition(reply.conn.pprev(1).pointee == nil, "the removal cleared the reply node's back link")
        })
        return "selftest data-race-pair --design linux: a pass over bucket \(low) unlinked the reply node of bucket \(high) without its stripe lock; another thread then read its back link"
    }
}

/// A connection's handle, moved to another thread by a self-test.
private struct LinuxConnRef: @unchecked Sendable {
    let conn: LinuxConn
    init(_ c: LinuxConn) { conn = c }
}
