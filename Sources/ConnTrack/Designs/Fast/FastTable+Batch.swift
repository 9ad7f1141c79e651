import CPrefetch

// The batched packet path: for a group of `lookupBatch` packets, hash them
// all and prefetch their home buckets; then read each bucket's tags and
// prefetch the first candidate entry; then process the packets in order.
// By the time a packet is processed its bucket and entry lines are on their
// way, so the group's cache misses overlap instead of following each other.
// Processing stays strictly in packet order (it scans the bucket again, from
// cache), so a packet sees the connection an earlier packet of its group
// created.
extension FastTable {
    public func processBatch(_ b: inout PacketBatch, _ ctx: inout WorkerContext) {
        switch b.clock {
        case .virtual:
            if let t = b.frozenNow {
                var c = FrozenClock(t)
                runGroups(&b, clock: &c, &ctx)
            } else {
                var c = VirtualClock(0)
                runGroups(&b, clock: &c, &ctx)
            }
        case .real:
            var c = MonotonicClock()
            runGroups(&b, clock: &c, &ctx)
        case .coarse:
            var c = b.coarse
            runGroups(&b, clock: &c, &ctx)
            b.coarse = c
        }
    }

    /// Prefetches the entry of the first slot in the home bucket of `h` in
    /// `ix` whose tag matches (a hint: a wrong guess costs one wasted
    /// prefetch).
    @inline(__always)
    func prefetchCandidate(_ h: UInt64, in ix: FastIndex) {
        let b = ix.home(h), tag = Self.tag(h)
        for k in 1...Self.slotsPerBucket {
            let s = ix.word(b, k).pointee.load(ordering: .relaxed)
            if s != 0 && s &>> 48 == tag {
                // A lookup reads the slot from its tuple to the flags
                // (bytes 0–55 of a wide slot, 0–31 of a compact one), which
                // may span two cache lines.
                let e = UnsafeRawPointer(pool.entry(Self.entryIndex(s)))
                ct_prefetch_write(e - pool.entryOffset)
                ct_prefetch_write(e - 1)
                return
            }
        }
    }

    @inline(__always)
    func runGroups<C: LoopClock>(_ b: inout PacketBatch, clock: inout C, _ ctx: inout WorkerContext) {
        var i = b.position
        let end = b.end
        let stop = b.stopAtOrAfter
        var countdown = b.countdown
        let g = lookupBatch
        var hashes = InlineArray<64, UInt64>(repeating: 0)
        while i < end {
            // The group ends early before a packet at or after `stop` (an
            // inline reaper pass is due first).
            let limit = min(end, i + g)
            var j = i
            while j < limit && b.packets[j].timestamp < stop { j += 1 }
            // One index for the group: a resize publishing meanwhile is
            // seen by the next group (a lookup here may miss what was
            // created since; its insert then finds it, as a clash).
            let ix = index
            if g > 1 {
                for k in i..<j {
                    let h = hash(b.packets[k].id)
                    hashes[k - i] = h
                    ix.prefetchBucket(ix.home(h))
                }
                for k in i..<j { prefetchCandidate(hashes[k - i], in: ix) }
            } else if j > i {
                hashes[0] = hash(b.packets[i].id)
            }
            for k in i..<j {
                let p = b.packets[k]
                clock.advance(to: p)
                countdown -= 1
                if countdown == 0 {
                    countdown = b.sampleEvery
                    // A sampled packet's latency: its hash and its
                    // processing, after its group's prefetches.
                    let t0 = MonotonicClock.read()
                    _ = handle(p, hash: hash(p.id), in: ix, now: clock.now(), &ctx)
                    if b.latencyCount < b.latencies.count {
                        b.latencies[b.latencyCount] = UInt64(max(0, MonotonicClock.read() - t0))
                        b.latencyCount += 1
                    }
                } else {
                    _ = handle(p, hash: hashes[k - i], in: ix, now: clock.now(), &ctx)
                }
            }
            i = j
            if j < limit { break }
        }
        b.position = i
        b.countdown = countdown
    }
}
