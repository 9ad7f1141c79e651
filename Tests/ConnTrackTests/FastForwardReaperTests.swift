import Testing
@testable import ConnTrack
import TestSupport

/// The same mixed traffic into a table: handshakes (established, 5 days),
/// SYNs (120 s), UDP (30 s), NAT redirects and a self-connection, spread
/// over the first 40 s, with the reaper run between packets.
private func feed(_ t: BucketTable, _ r: Reaper<BucketTable>) {
    var c = ctx()
    for i in 0..<300 {
        let now = Int64(i) * 133 * Duration_ns.millisecond
        r.runDue(upTo: now)
        var id = tcpTuple(v4(10, 1, UInt8(i >> 8), UInt8(i & 255)), UInt16(1000 + i), v4(10, 2, 0, 1), 443)
        switch i % 4 {
        case 0: handshake(t, id, now: now, &c)
        case 1: id.transProto = .udp; _ = t.handlePacket(out(id, [], seq: 0), clock: VirtualClock(now), &c)
        case 2: _ = t.handlePacket(out(id, .syn, seq: 1, nat: (v4(172, 16, 0, 1), UInt16(i))), clock: VirtualClock(now), &c)
        default: _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(now), &c)
        }
    }
    let land = tcpTuple(v4(10, 9, 9, 9), 7, v4(10, 9, 9, 9), 7)
    _ = t.handlePacket(out(land, .syn, seq: 1), clock: VirtualClock(20 * sec), &c)
}

private func policies() -> [ReaperPolicyChoice] {
    [.seed(SeedReaperPolicy(fraction: 4)), .linux2022(Linux2022ReaperPolicy(bucketsPerPass: 48, maxEvictions: 5)),
     .cilium(CiliumReaperPolicy())]
}

@Suite(.oneThread) struct FastForwardReaperTests {
    /// A gap of 8 days after the traffic: every pass walked, against idle
    /// passes computed and whole periods of them skipped. Everything but
    /// wall-clock time must agree.
    @Test(arguments: Variant.allCases, [0, 1, 2])
    func fastForwardGivesTheCountersAndIntervalsOfEveryPass(_ v: Variant, _ p: Int) {
        var runs: [(Reaper<BucketTable>, BucketTable)] = []
        for ff in [true, false] {
            let t = makeTable(v, buckets: 192)
            // A short history, so that whole periods are skipped too.
            let r = Reaper(table: t, policy: policies()[p], startDelay: 5 * sec, startTime: 0, historyLimit: 40,
                           fastForward: ff)
            feed(t, r)
            r.runDue(upTo: 8 * Duration_ns.day)
            runs.append((r, t))
        }
        let (a, b) = (runs[0].0.snapshot(), runs[1].0.snapshot())
        func timeless(_ h: [Reaper<BucketTable>.PassRecord]) -> [Reaper<BucketTable>.PassRecord] {
            h.map { var x = $0; x.durationNanos = 0; x.fastForwarded = false; return x }
        }
        func counted(_ t: Reaper<BucketTable>.Totals) -> [Int] {
            [t.checked, t.expired, t.removed, t.deferred, t.late, Int(t.maxLagNanos)]
        }
        #expect(a.passes == b.passes)
        #expect(a.interval == b.interval && a.nextStart == b.nextStart)
        #expect(timeless(a.history) == timeless(b.history))
        #expect(counted(a.totals) == counted(b.totals))
        #expect([a.stats.tableLock.acquisitions, a.stats.bucketLock.acquisitions, a.stats.connLock.acquisitions,
                 a.stats.removedByReaper, a.stats.deferredByLockOrder]
                == [b.stats.tableLock.acquisitions, b.stats.bucketLock.acquisitions, b.stats.connLock.acquisitions,
                    b.stats.removedByReaper, b.stats.deferredByLockOrder])
        #expect(runs[0].1.exportConnections(now: 8 * Duration_ns.day) == runs[1].1.exportConnections(now: 8 * Duration_ns.day))
        // The gap was crossed by computed passes, and the walked ones removed
        // what expired in it.
        #expect(a.totals.fastForwarded > 0 && b.totals.fastForwarded == 0)
        #expect(a.totals.removed > 0)
        #expect(runs[0].1._checkInvariants().violations.isEmpty)
    }

    /// Ten years of idle passes finish at once (a corrupted timestamp).
    @Test func aGapOfYearsIsCrossedInFewWalks() {
        let t = makeTable(.seed2020, buckets: 1024)
        let r = Reaper(table: t, policy: .seed(SeedReaperPolicy()), startDelay: 5 * sec, startTime: 0)
        feed(t, r)
        r.runDue(upTo: 3650 * Duration_ns.day)
        let s = r.snapshot()
        // About 6.7e8 passes due; only those that found something walked.
        #expect(s.passes > 600_000_000)
        #expect(s.passes - s.totals.fastForwarded < 100_000)
        #expect(t.tupleCount == 0)
    }
}
