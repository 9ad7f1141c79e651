extension BucketTable {
    /// The seed's `handlePacket`: look the packet's tuple up; when found,
    /// refresh `lastUsed` and update the tracker; when missing, create and
    /// insert a connection. `clock` is read twice per packet in `seed2020`
    /// (as the seed's two `time.Now()` calls) and once in `fixed`.

    public func handlePacket<C: TimeSource>(_ packet: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome {
        ctx.stats.packets &+= 1
        let p = rules.trackerSeesPayload ? packet : packet.headerOnly
        let now = clock.now()
        readLock(&ctx)
        let found = connFor(p.id, bucket: bucketIndex(p.id), now: now, &ctx)
        unlockTable(&ctx)
        if let t = found {
            return .tracked(update(t, p, now: rules.readsClockTwice ? clock.now() : now, &ctx))
        }
        let c = ConnNode.make(original: p.id, reply: p.replyForNewConnection, hook: p.hook,
                              now: rules.readsClockTwice ? clock.now() : now, nat: p.nat)
        switch insert(c, &ctx) {
        case .inserted:
            if rules.trackerSeesCreatingPacket {
                lockConn(c, &ctx)
                initialiseTracker(c, p, &ctx)
                unlockConn(c, &ctx)
            }
            if ctx.tracing { traceCreated(c, p, now: now, timeouts: timeouts, &ctx) }
            return .created
        case .clash(let existing):
            ConnNode.destroy(c)
            return .tracked(update(existing, p, now: now, &ctx))
        case .failed, .dropped:
            ConnNode.destroy(c)
            if ctx.tracing { ctx.traceVerdict(.notCommitted, p) }
            return .notTracked
        }
    }

    /// Refreshes `lastUsed` and feeds the tracker under the connection lock.
    @inline(__always)
    func update(_ t: UnsafeMutablePointer<TupleNode>, _ p: Packet, now: Int64, _ ctx: inout WorkerContext) -> TrackerResult? {
        lockedRefreshAndTrack(t, p, now: now, timeouts: timeouts, &ctx)
    }
}

extension BucketTable {
    public func processBatch(_ batch: inout PacketBatch, _ ctx: inout WorkerContext) {
        runPacketLoop(self, &batch, &ctx)
    }
}
