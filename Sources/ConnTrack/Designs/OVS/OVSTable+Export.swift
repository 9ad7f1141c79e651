import Sync

// Export and import: connections in insertion order (serial), so a round
// trip gives the same records; an import deals them to the expiry lists
// in turn again, as it makes them.
extension OVSTable {
    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        var conns: [UnsafeMutablePointer<ConnNode>] = []
        conns.reserveCapacity(count)
        var at = first(from: 0)
        while let (c, l) = at { conns.append(c); at = successor(c, list: l) }
        conns.sort { $0.pointee.serial & Self.serialMask < $1.pointee.serial & Self.serialMask }
        for c in conns { body(lockedRecord(c, now: now)) }
    }

    /// The OVS state bits not in a record start clear (a UDP connection
    /// not yet replied is taken as having seen one packet).
    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        try records.validateForImport(allowDuplicateIDs: false)
        if records.count > limit {
            throw ImportError(record: limit, reason: "more connections than the limit \(limit)")
        }
        lockCT(&ctx)
        defer { unlockCT(&ctx) }
        precondition(count == 0, "import needs an empty table")
        var inserted: [UnsafeMutablePointer<ConnNode>] = []
        for (i, r) in records.enumerated() {
            let c = ConnNode.make(from: r, adaptiveMutex: true, cacheAligned: false)
            // OVS's own TCP state as saved, or another design's as OVS would
            // pick it up mid-stream (`OVSTCPConn(converting:)` tells them apart).
            if r.original.transProto == .tcp { c.pointee.tcb = TCB(ovs: OVSTCPConn(converting: r.tcb)) }
            setExpiration(c)
            c.pointee.serial = UInt64(Self.unlisted) &<< 56 | nextSerial
            let h = hash(r.original)
            var ok = insertKey(c.originalPtr, hash: h, &ctx)
            if ok && c.pointee.natRedirect && !c.isSelf && !insertKey(c.replyPtr, hash: hash(r.reply), &ctx) {
                _ = removeKey(c.originalPtr, hash: h, &ctx)
                ok = false
            }
            guard ok else {
                // Nothing is inserted when an import fails: take back what was.
                ConnNode.destroy(c)
                for x in inserted { remove(x, reason: .other, now: 0, &ctx) }
                nextSerial = 0
                throw ImportError(record: i, reason: "no room in the cuckoo map for its keys")
            }
            nextSerial &+= 1
            pushFrontInTurn(c)
            count += 1
            if count > peak { peak = count }
            inserted.append(c)
        }
    }

    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        runPacketLoop(self, &batch, &ctx)
    }
}

extension OVSTable {
    /// The map (mapped, touched where entries land: at most a page per
    /// entry), the connection blocks, and what export, inspection and the
    /// invariant check allocate.
    public static func estimatedBytes(_ config: TableConfig, connections n: Int, threads: Int) -> Int {
        typealias F = MemoryFootprint
        let limit = config.maxConnections ?? defaultLimit
        let mapBytes = CuckooMap.buckets(forEntries: 2 * limit) * 64
        let pointer = MemoryLayout<UnsafeMutablePointer<ConnNode>>.stride
        var bytes = min(mapBytes, F.touchedPages(2 * n * F.page))
        bytes += n * F.heapBlock(MemoryLayout<ConnNode>.stride, alignment: MemoryLayout<ConnNode>.alignment)
        bytes += F.array(n, stride: pointer) + F.hashTable(n, stride: pointer)
        bytes += F.hashTable(2 * n, stride: MemoryLayout<TupleID>.stride)
        bytes += n * MemoryLayout<ConnectionRecord>.stride
        return bytes
    }
}
