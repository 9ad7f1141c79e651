@testable import ConnTrack
@testable import Sync
import Testing
import struct Synchronization.Atomic
#if canImport(Glibc)
import Glibc
#endif

/// The one wait primitive (spin briefly, then park), the barrier built on
/// it, and the reaper team's job hand-over, which must not wait for a
/// helper to start. Every outcome here is decided by the algorithm, not by
/// timing: a lost wake-up would hang (the time limit fails it), and the
/// team's jobs are checked for exact coverage whoever runs which chunk.
@Suite(.timeLimit(.minutes(2))) struct WaitTests {
    /// Ping-pong between two threads that never spin, so every wait parks
    /// (or finds its condition already true): each of 2,000 hand-overs
    /// must be woken.
    @Test(arguments: [Int64(0), WaitPoint.defaultSpinNanos])
    func everyParkedWaiterIsWoken(_ spin: Int64) {
        let point = WaitPoint(spinNanos: spin)
        let turn = Atomic<Int>(0)
        let rounds = 2000
        let other = OSThread {
            var w = Waiter()
            for k in stride(from: 1, to: 2 * rounds, by: 2) {
                point.wait(&w) { turn.load(ordering: .acquiring) == k }
                turn.store(k + 1, ordering: .releasing)
                point.wake()
            }
        }
        var w = Waiter()
        for k in stride(from: 0, to: 2 * rounds, by: 2) {
            point.wait(&w) { turn.load(ordering: .acquiring) == k }
            turn.store(k + 1, ordering: .releasing)
            point.wake()
        }
        point.wait(&w) { turn.load(ordering: .acquiring) == 2 * rounds }
        other.join()
        #expect(turn.load(ordering: .relaxed) == 2 * rounds)
        #expect(!point.hasSleepers)
        // Waits that did not end at once are counted, parked or not.
        #expect(w.stats.waits >= w.stats.parks)
        if spin == 0 { #expect(w.stats.spinNanos == 0 || w.stats.parks == w.stats.waits) }
    }

    /// A sleeper on a stop latch whose deadline is an hour away returns
    /// when the latch is stopped (a lost wake-up would hang: the time limit
    /// fails it), saying it was stopped; once stopped, a sleep returns at
    /// once; a deadline already past returns without stopping.
    @Test func aStopLatchWakesItsSleeper() {
        let latch = StopLatch()
        #expect(latch.sleep(until: monotonicNanos() - 1) == false)
        let started = Atomic<Bool>(false)
        let result = Atomic<Int>(0)
        let sleeper = OSThread {
            started.store(true, ordering: .releasing)
            result.store(latch.sleep(nanoseconds: 3_600_000_000_000) ? 1 : 2, ordering: .releasing)
        }
        while !started.load(ordering: .acquiring) { sched_yield() }
        latch.stop()
        sleeper.join()
        #expect(result.load(ordering: .acquiring) == 1)
        #expect(latch.isStopped)
        #expect(latch.sleep(nanoseconds: 3_600_000_000_000))
    }

    /// Three parties, a thousand crossings: the action runs once per
    /// crossing, alone, before anyone goes on.
    @Test(arguments: [Int64(0), WaitPoint.defaultSpinNanos])
    func aBarrierRunsItsActionOncePerCrossing(_ spin: Int64) {
        let b = Barrier(parties: 3, spinNanos: spin)
        let actions = Atomic<Int>(0)
        let seen = Atomic<Int>(0)
        let crossings = 1000
        @Sendable func party() {
            var w = Waiter()
            for k in 1...crossings {
                b.wait(&w) { actions.wrappingAdd(1, ordering: .relaxed) }
                // Every party sees the action of this crossing done.
                if actions.load(ordering: .relaxed) >= k { seen.wrappingAdd(1, ordering: .relaxed) }
            }
        }
        let threads = (0..<2).map { _ in OSThread { party() } }
        party()
        for t in threads { t.join() }
        #expect(actions.load(ordering: .relaxed) == crossings)
        #expect(seen.load(ordering: .relaxed) == 3 * crossings)
    }

    /// A waiter whose thread is being preempted spins briefly; one that is
    /// not spins the wait point's budget.
    @Test func aPreemptedWaiterSpinsBriefly() {
        var w = Waiter()
        let now = monotonicNanos()
        #expect(w.spinLimit(50_000, now: now) == 50_000)
        w.contendedUntil = now + Waiter.calmNanos
        #expect(w.spinLimit(50_000, now: now) == WaitPoint.contendedSpinNanos)
        #expect(w.spinLimit(1_000, now: now) == 1_000)
        #expect(w.spinLimit(50_000, now: now + Waiter.calmNanos) == 50_000)
        #expect(w.stats.contendedWaits == 2)
    }

    /// A job is done by the coordinator alone when no helper comes: it
    /// never waits for a party to start (a descheduled helper must cost
    /// the job its help, not a scheduler slice).
    @Test func aJobDoesNotWaitForAHelperToStart() {
        let team = ReapTeam(parties: 3)
        let n = 5000
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        nonisolated(unsafe) let h = hits
        let parts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        defer { parts.deallocate() }
        parts.initialize(repeating: 0)
        nonisolated(unsafe) let p = parts
        for _ in 0..<10 {
            _ = team.run(over: n, chunk: 16) { part, r in
                for k in r { h[k] += 1 }
                p[part] += r.count
            }
        }
        team.release()
        #expect(hits.allSatisfy { $0 == 10 })
        #expect(parts[0] == 10 * n && parts[1] == 0 && parts[2] == 0)
    }

    /// With helpers serving, every slot of every job is done exactly once,
    /// whoever joins which job; a helper that comes late (here: after the
    /// first jobs) joins the later ones, and release ends every `serve`.
    @Test func helpersThatJoinCoverEachSlotOnce() {
        let team = ReapTeam(parties: 3)
        let n = 20_000, jobs = 200
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0)
        nonisolated(unsafe) let h = hits
        func job() { _ = team.run(over: n, chunk: 32) { _, r in for k in r { h[k] += 1 } } }
        let early = OSThread { team.serve(1) }
        for _ in 0..<jobs / 2 { job() }
        let late = OSThread { team.serve(2) }
        for _ in 0..<jobs / 2 { job() }
        team.release()
        early.join(); late.join()
        #expect(hits.allSatisfy { $0 == jobs })
    }

    /// In-order adds: each used chunk is told the total of every chunk
    /// before it, and nothing past the chunk that reaches the limit is used.
    @Test(arguments: [1, 2, 3])
    func inOrderAddsSeeThePrefixTotal(_ helpers: Int) {
        let team = ReapTeam(parties: helpers + 1)
        let servers = (1...helpers).map { i in OSThread { team.serve(i) } }
        let n = 4096, chunk = 16
        // Each slot weighs 1; the limit stops the run part way.
        for limit in [Int.max, 1000, 37] {
            let used = UnsafeMutableBufferPointer<Int>.allocate(capacity: n / chunk)
            defer { used.deallocate() }
            used.initialize(repeating: -1)
            nonisolated(unsafe) let u = used
            let (_, measured) = team.run(inOrderOver: n, chunk: chunk, limit: limit,
                                         measure: { _, r in r.count },
                                         use: { _, r, before in u[r.lowerBound / chunk] = before })
            let reached = min(n, (limit == .max ? n : (limit + chunk - 1) / chunk * chunk))
            for c in 0..<(n / chunk) {
                if c * chunk < reached {
                    #expect(used[c] == c * chunk, "chunk \(c) saw \(used[c])")
                } else {
                    #expect(used[c] == -1, "chunk \(c) past the limit was used")
                }
            }
            #expect(measured >= reached)
        }
        team.release()
        for s in servers { s.join() }
    }
}
