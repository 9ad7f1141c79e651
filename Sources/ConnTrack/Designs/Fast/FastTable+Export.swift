// Export and import: connections in entry order. An import into an empty
// table takes entries 0, 1, 2, … in record order, and where a slot lands
// depends only on the set of tuples (its home bucket's chain), so a round
// trip rebuilds the same structure.
extension FastTable {
    /// Calls `body` for every published entry below the pool's high-water mark.
    func forEachPublished(_ body: (UInt32, UnsafeMutablePointer<FastEntry>) -> Void) {
        let n = pool.counts().handedOut
        for i in 0..<n {
            let e = pool.entry(UInt32(i))
            if e.isPublished { body(UInt32(i), e) }
        }
    }

    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        forEachPublished { _, e in body(lockedRecord(e, now: now, &ctx)) }
    }

    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        try records.validateForImport(allowDuplicateIDs: false)
        try limit.checkImport(records.count)
        precondition(pool.counts().handedOut == 0 || inspect().connections == 0, "import needs an empty table")
        var done: [UInt32] = []
        done.reserveCapacity(records.count)
        if pool.layout == .compact, let k = records.firstIndex(where: { !EntryLayout.fitsCompact($0.original) }) {
            throw ImportError(record: k, reason: "an IPv6 connection cannot be imported into an --ipv4-only table")
        }
        for (k, r) in records.enumerated() {
            let i = pool.take(generation, &ctx)
            let e = pool.entry(i)
            let layout: SlotLayout = r.reply == r.original.reversed ? .symmetric : (r.reply == r.original ? .single : .pair)
            var f = (r.nat ? FastEntry.Flags.nat : 0) | layout.rawValue << FastEntry.Flags.layoutShift | UInt32(r.hook.rawValue)
            if r.udp.initialised { f |= FastEntry.Flags.udpInitialised }
            if r.udp.replied { f |= FastEntry.Flags.udpReplied }
            // The flags first: the tuple area and the NAT side table are
            // read by the layout they name.
            e.flagsWord.pointee.store(f | compactFlag, ordering: .relaxed)
            e.setOriginal(r.original, pool.layout)
            // The redirect target is the reply's source.
            if r.nat {
                pool.prepareNAT(i, &ctx)
                EntryPool.natAddress(of: e).pointee = r.reply.srcAddr
            }
            e.natPort = r.nat ? r.reply.srcPort : 0
            e.pointee.tcb = r.tcb
            e.lastUsedWord.pointee.store(r.lastUsed, ordering: .relaxed)
            refreshTimeoutClass(e)
            let h1 = hash(r.original), h2 = layout == .pair ? hash(r.reply) : h1
            let l = lockHomes(h1, h2, &ctx)
            let ok = publish(i, layout: layout, h1: h1, h2: h2, at: l)
            unlockStripes(l.held, &ctx)
            guard ok else {
                pool.giveBack(i, &ctx)
                // Nothing stays inserted (each removal gives its live slot back).
                var scratch = WorkerContext(name: "import-undo", checkLockOrder: ctx.locks.enabled)
                for j in done { remove(j, kind: .other, now: 0, &scratch) { _, _ in true } }
                throw ImportError(record: k, reason: "the table is full (\(done.count) connections; size it with --capacity)")
            }
            done.append(i)
            if limit.enabled { limit.live.add(1, ordering: .relaxed) }
        }
        limit.noteInserted()
    }
}
