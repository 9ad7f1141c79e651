import Sync
import Testing
@testable import ConnTrack
import TestSupport

@Suite struct ReaperTests {
    let ms = Duration_ns.millisecond

    @Test(.oneThread) func seedScheduleFollowsTheSeedArithmetic() {
        let p = SeedReaperPolicy()
        #expect(p.maxInterval == 468_750_000)
        // (checked, expired) → interval, starting from the 5 s start delay.
        let script: [(Int, Int, Int64)] = [
            (10, 0, 468_750_000),   // 5 s + 10 ms > max: capped
            (10, 6, 10 * ms),       // 60 % > 50 %: minimum
            (10, 5, 20 * ms),       // exactly 50 % is not "more than"
            (0, 0, 30 * ms),        // nothing checked: 0 %
            (3, 2, 10 * ms),        // 66 %
            (200, 101, 10 * ms),    // 50.5 % → integer 50: not stale... see below
        ]
        var prev: Int64 = 5 * sec
        var got: [Int64] = []
        for (c, e, _) in script {
            prev = p.nextInterval(checked: c, expired: e, previous: prev)
            got.append(prev)
        }
        // 101 * 100 / 200 = 50 in integer arithmetic: +10 ms, not minimum.
        #expect(got == [468_750_000, 10 * ms, 20 * ms, 30 * ms, 10 * ms, 20 * ms])
    }

    @Test(.oneThread) func seedReapUnusedWalksAFractionAndReturnsTheNextBucket() {
        let t = makeTable(.seed2020, buckets: 1024)
        var c = ctx()
        let r = t.reapUnused(start: 1000, previousInterval: 10 * ms, now: 0, &c)
        #expect(r.next == (1000 + 7) % 1024 + 1)
        #expect(r.interval == 20 * ms)
        // Fewer buckets than the fraction: the loop never runs; the seed returns 1.
        let small = makeTable(.seed2020, buckets: 64)
        #expect(small.reapUnused(start: 30, previousInterval: 0, now: 0, &c).next == 1)
    }

    @Test(.oneThread) func ciliumScheduleShrinksAndGrows() {
        let p = CiliumReaperPolicy()
        #expect(p.interval(deleteRatio: 0.5, previous: 300 * sec) == 150 * sec)
        #expect(p.interval(deleteRatio: 0.99, previous: 300 * sec) == 30 * sec)
        #expect(p.interval(deleteRatio: 0.95, previous: 20 * sec) == 10 * sec)
        #expect(p.interval(deleteRatio: 0.01, previous: 300 * sec) == 450 * sec)
        #expect(p.interval(deleteRatio: 0.10, previous: 300 * sec) == 300 * sec)
    }

    @Test(.oneThread) func linuxScheduleResumesUntilTheSweepEndsThenWaitsTheAverageLifetime() {
        var p = Linux2022ReaperPolicy(bucketsPerPass: 100, maxEvictions: 64)
        func pass(_ buckets: Int, live: Int, remaining: Int128) -> ReapPassResult {
            .init(nextStart: 0, slotsScanned: buckets, checked: live, expired: 0, removed: 0, deferred: 0,
                  remainingSum: remaining, liveChecked: live, stoppedEarly: false)
        }
        #expect(p.next(after: pass(100, live: 2, remaining: Int128(20 * sec)), previous: 0, tableSize: 250) == ms)
        #expect(p.next(after: pass(100, live: 0, remaining: 0), previous: 0, tableSize: 250) == ms)
        #expect(p.next(after: pass(50, live: 2, remaining: Int128(40 * sec)), previous: 0, tableSize: 250) == 15 * sec)
        #expect(p.next(after: pass(250, live: 1, remaining: 1), previous: 0, tableSize: 250) == 1 * sec)
        #expect(p.next(after: pass(250, live: 0, remaining: 0), previous: 0, tableSize: 250) == 60 * sec)
    }

    @Test(.oneThread) func inlineReaperRunsEveryDuePassAtItsDueTime() {
        let t = makeTable(.fixed, buckets: 256)
        let r = Reaper(table: t, policy: .seed(SeedReaperPolicy()), startDelay: 5 * sec, startTime: 0)
        #expect(r.runDue(upTo: 5 * sec - 1) == 0)
        #expect(r.runDue(upTo: 5 * sec) == 1)
        // After the first pass: 468.75 ms, then 10 ms steps are capped.
        #expect(r.runDue(upTo: 5 * sec + 468_750_000) == 1)
        let s = r.snapshot()
        #expect(s.passes == 2)
        #expect(s.history.map(\.at) == [5 * sec, 5 * sec + 468_750_000])
        #expect(s.nextStart == 4)   // 2 buckets per pass, one past the last
    }

    @Test func backgroundReaperRemovesExpiredConnectionsAndStopsCleanly() {
        let t = makeTable(.fixed, buckets: 128)
        var c = ctx()
        for p in 0..<100 {
            _ = t.handlePacket(out(tcpTuple(v4(10, 0, 0, 1), UInt16(p + 1), v4(10, 0, 0, 2), 80), .syn, seq: 1),
                               clock: VirtualClock(0), &c)
        }
        let r = Reaper(table: t, policy: .seed(SeedReaperPolicy(fraction: 1)), startDelay: 0, startTime: 0)
        r.start(realTime: false, now: { 1000 * sec })
        // The deadline only guards against a hang: about 150 passes are
        // needed, and a machine that gives the thread no CPU for a minute
        // is not one this test should fail on.
        let deadline = monotonicNanos() + 60 * 1_000_000_000
        while t.tupleCount > 0 && monotonicNanos() < deadline { OSThread.sleep(nanoseconds: 1_000_000) }
        r.stop()
        #expect(t.tupleCount == 0)
        #expect(r.snapshot().stats.removedByReaper == 100)
        #expect(r.violations.isEmpty)
        // Restartable.
        r.start(realTime: false, now: { 1000 * sec })
        r.stop()
    }
}
