import Sync
import Testing
@testable import ConnTrack
import TestSupport

/// Fewer buckets than the seed's fraction: `len(buckets)/fractionPerReaping`
/// is 0, so the 2020 `reapUnused` walks no bucket, returns start 1 (its
/// `idx` stays 0 and is incremented) and, having checked nothing (0 %
/// expired), lengthens the interval by 10 ms up to 60 s / 128.
@Suite(.oneThread) struct ZeroBudgetReaperTests {
    static let cap: Int64 = 468_750_000

    /// The first pass receives the 5 s start delay as its previous interval:
    /// 5 s + 10 ms is over the cap, so every interval is the cap.
    static func expectedAt(_ k: Int) -> Int64 { 5 * sec + Int64(k) * cap }

    @Test(arguments: [64, 7])
    func reapUnusedWalksNothingAndReturnsStartOne(_ buckets: Int) {
        let t = makeTable(.seed2020, buckets: buckets)
        var c = ctx()
        let id = tcpTuple(v4(10, 0, 0, 1), 1000, v4(10, 0, 0, 2), 80)
        _ = t.handlePacket(out(id, .syn, seq: 1), clock: VirtualClock(0), &c)
        // Expired at 1000 s, but no bucket is walked.
        var r = t.reapUnused(start: 0, previousInterval: 5 * sec, now: 1000 * sec, &c)
        #expect(r.next == 1 && r.interval == Self.cap)
        r = t.reapUnused(start: 1, previousInterval: 20 * Duration_ns.millisecond, now: 1000 * sec, &c)
        #expect(r.next == 1 && r.interval == 30 * Duration_ns.millisecond)
        #expect(t.tupleCount == 2)
        #expect(c.stats.removedByReaper == 0)
    }

    /// The runner's passes, walked or computed from the sweep summary, are
    /// the seed's: due every 468.75 ms after the 5 s delay, start 0 then 1,
    /// nothing checked or removed, while connections expire; a lookup then
    /// removes expired connections inline.
    @Test(arguments: [(64, false), (64, true), (7, false), (7, true)])
    func passesCheckNothingAndOnlyLookupsRemove(_ buckets: Int, _ fastForward: Bool) {
        let t = makeTable(.seed2020, buckets: buckets)
        var c = ctx()
        for p in 0..<40 {
            _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), UInt16(1000 + p), v4(10, 0, 0, 2), 80), .syn, seq: 1),
                               clock: VirtualClock(0), &c)
        }
        let reaper = Reaper(table: t, policy: .seed(SeedReaperPolicy()), startDelay: 5 * sec, startTime: 0,
                            fastForward: fastForward)
        // 400 passes, well past the 120 s timeout of the unanswered SYNs.
        let n = 400
        reaper.runDue(upTo: Self.expectedAt(n - 1))
        let s = reaper.snapshot()
        #expect(s.passes == n)
        #expect(s.history.map(\.at) == (0..<n).map(Self.expectedAt))
        #expect(s.history.map(\.interval) == Array(repeating: Self.cap, count: n))
        #expect(s.history.map(\.start) == [0] + Array(repeating: 1, count: n - 1))
        #expect(s.history.allSatisfy { $0.checked == 0 && $0.expired == 0 && $0.removed == 0 })
        #expect(s.totals.checked == 0 && s.totals.removed == 0)
        #expect(s.nextStart == 1 && s.interval == Self.cap)
        #expect(s.stats.removedByReaper == 0)
        // One table lock per pass, as the seed's RLock; no bucket lock.
        #expect(s.stats.tableLock.acquisitions == UInt64(n))
        #expect(s.stats.bucketLock.acquisitions == 0)
        if fastForward { #expect(s.totals.fastForwarded > 0) }
        let now = Self.expectedAt(n - 1)
        #expect(t.expiredCount(now: now) == 40)
        // A lookup in each bucket reaps expired connections there.
        for p in 0..<40 {
            _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), UInt16(1000 + p), v4(10, 0, 0, 2), 80), .ack, seq: 2),
                               clock: VirtualClock(now), &c)
        }
        #expect(c.stats.removedInline > 0)
        #expect(t._checkInvariants().ok)
    }
}
