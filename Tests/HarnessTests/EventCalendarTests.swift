import Testing
@testable import FlowGen
import TestSupport

/// The workload generator's calendar gives events back in (time, number)
/// order whatever their spacing: within the slot being played, in the
/// bucket being played, in later buckets, beyond the horizon (the heap),
/// and after stretches with nothing pending; a copy keeps its own events.
@Suite(.oneThread) struct EventCalendarTests {
    /// Gaps from the same slot to past the 17 s horizon.
    static let gaps: [Int64] = [0, 1, 5_000, 16_384, 40_000, 1_000_000, 1 << 20, 3_000_000, 1_000_000_000, 20_000_000_000, 100_000_000_000]

    @Test(arguments: [1, 7, 1_000])
    func popsInTimeOrderAsTheyAreScheduled(seed: UInt64) {
        var rng = Xoshiro(seed: seed)
        var cal = EventCalendar()
        cal.reserve(64)
        // The reference: pending (time, id), kept sorted greatest first,
        // so its minimum is the last (a linear minimum per pop made this
        // test 19 s of a debug build).
        var pending: [(Int64, Int32)] = []
        var now: Int64 = 0
        var next: Int32 = 0
        var popped = 0
        for step in 0..<20_000 {
            // Schedule one to three events at or after `now` (as the
            // generator does: never before the event being played).
            for _ in 0..<(1 + rng.below(3)) where pending.count < 800 {
                let gap = Self.gaps[rng.below(Self.gaps.count)]
                let t = now + (gap == 0 ? 0 : Int64(rng.below(Int(gap))))
                cal.schedule(next, at: t)
                Self.insert((t, next), into: &pending)
                next += 1
            }
            // Pop one or two.
            for _ in 0..<(1 + rng.below(2)) {
                guard let t = cal.peekTime() else {
                    #expect(pending.isEmpty, "calendar empty with \(pending.count) pending")
                    break
                }
                let e = cal.pop()
                let want = pending.removeLast()
                #expect(t == want.0 && e.id == want.1 && e.time == t, "popped (\(t), \(e.id)); expected \(want)")
                now = t
                popped += 1
            }
            if step % 997 == 0 { cal._checkInvariants() }
        }
        // Drain; the order still holds.
        while let t = cal.peekTime() {
            let e = cal.pop()
            let want = pending.removeLast()
            #expect(t == want.0 && e.id == want.1)
        }
        #expect(pending.isEmpty && popped > 15_000)
        cal._checkInvariants()
    }

    /// Inserts `x` into `a`, kept in descending (time, id) order.
    static func insert(_ x: (Int64, Int32), into a: inout [(Int64, Int32)]) {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if EventHeap.less(x, a[mid]) { lo = mid + 1 } else { hi = mid }
        }
        a.insert(x, at: lo)
    }

    /// A copy shares the calendar's memory until one of them changes: each
    /// then plays its own events.
    @Test func aCopyKeepsItsOwnEvents() {
        var a = EventCalendar()
        for i in 0..<100 { a.schedule(Int32(i), at: Int64(i) * 10_000_000) }
        var b = a
        b.schedule(1_000, at: 5)
        a.schedule(2_000, at: 7)
        #expect(a.peekTime() == 0 && a.pop().id == 0)
        #expect(a.peekTime() == 7 && a.pop().id == 2_000)
        #expect(b.peekTime() == 0 && b.pop().id == 0)
        #expect(b.peekTime() == 5 && b.pop().id == 1_000)
        var n = 0
        while a.peekTime() != nil { _ = a.pop(); n += 1 }
        #expect(n == 99)
        a._checkInvariants(); b._checkInvariants()
    }
}

/// The workloads' table-driven logarithm and exponential agree with the
/// twenty-term series they replaced, to a few units in the last place,
/// over the ranges a workload uses them on.
@Suite(.oneThread) struct WorkloadMathTests {
    @Test func lnAndExpAgreeWithTheSeries() {
        var rng = Xoshiro(seed: 3)
        var worstLn = 0.0, worstExp = 0.0
        for _ in 0..<200_000 {
            // ln: (0, 1] (exponential and normal draws), and up to 1e12.
            let x = rng.below(2) == 0 ? 1 - rng.unit() : expSeries(rng.unit() * 27.6)
            let a = lnFast(x), b = lnSeries(x)
            worstLn = max(worstLn, abs(a - b) / max(1, abs(b)))
            // exp: ±40 (lognormal sizes, Zipf weights, Pareto tails).
            let y = (rng.unit() - 0.5) * 80
            let c = expFast(y), d = expSeries(y)
            worstExp = max(worstExp, abs(c - d) / d)
        }
        #expect(worstLn < 1e-15, "ln differs by \(worstLn)")
        #expect(worstExp < 1e-14, "exp differs by \(worstExp)")
        #expect(abs(lnFast(1)) < 1e-16 && expFast(0) == 1)
    }
}
