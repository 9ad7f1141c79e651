extension DataRaceSelftest {
    /// The example plugin loaded from `spec` with
    /// CTB_EXAMPLE_FAULT=skip-bucket-lock: reaper passes over two slots on
    /// two threads each remove a connection and edit its partner's list,
    /// the same list, without its lock. The plugin's slots are found with the bucket table's layout
    /// (same hash, seed and buckets), which the example shares with
    /// `fixed`: for another plugin the steps may miss each other, and the
    /// self-test report nothing. nil: `spec` does not load.
    public static func examplePlugin(_ spec: String) -> String? {
        PluginLoader.tableType(spec).map { run($0) }
    }

    private static func run<T: ConnTrackTable>(_: T.Type) -> String {
        let layout = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed))
        let (a, b, high) = partnerList(T(TableConfig(buckets: 64, hashSeed: 1)), slot: layout.bucketIndex)
        return "selftest data-race-pair --design \(T.traits.name): passes over slots \(a) and \(b) on two threads each removed a connection whose partner sits in slot \(high)"
    }
}

extension LockOrderSelftest {
    /// The example plugin loaded from `spec` with
    /// CTB_EXAMPLE_FAULT=descending-lock-order: one thread inserts a flow
    /// whose tuples sit in two slots (higher slot first), is joined, then
    /// a second reaps it from the lower slot (lower first): both orders of
    /// one pair through the ABI's lock hooks. The slots are found with the
    /// bucket table's layout, which the example shares with `fixed`. nil:
    /// `spec` does not load.
    public static func examplePlugin(_ spec: String) -> String? {
        PluginLoader.tableType(spec).map { run($0) }
    }

    private static func run<T: ConnTrackTable>(_: T.Type) -> String {
        let layout = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed))
        let table = T(TableConfig(buckets: 64, hashSeed: 1))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        while layout.bucketIndex(id) == layout.bucketIndex(id.reversed) { id.srcPort &+= 1 }
        let flow = id
        inTurn({
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output),
                                   clock: VirtualClock(0), &ctx)
        }, {
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        })
        return "selftest lock-order-pair --design \(T.traits.name): slots \(layout.bucketIndex(flow)) and \(layout.bucketIndex(flow.reversed)) locked in both orders by two threads"
    }
}
