#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// The workers waiting at a lock-step boundary, lent to the reaper: one of
/// them (the coordinator, party 0) runs the due passes, and each pass's
/// read-only scan is split across all of them (`Reaper.runDue(team:)`), so
/// the boundary does not leave every worker but one idle.
///
/// Party i > 0 calls `serve(i)` and returns when the coordinator calls
/// `release()`; the coordinator calls `run` once per split scan in between.
///
/// A job does not wait for the helpers to start: the coordinator publishes
/// it and starts on it at once, and a helper joins when it gets there. At
/// the end the coordinator waits only for the helpers that joined, each to
/// finish the chunk it claimed. A helper that is parked, or whose CPU
/// another process took, costs the job its help, never a wait for it (a
/// barrier at each end of every scan made every pass wait a scheduler
/// slice beside one CPU-bound process).
public final class ReapTeam: @unchecked Sendable {
    public let parties: Int
    /// A pass over fewer slots than this per party (or expected to stop
    /// within as many, at an eviction cap) is walked alone: handing a scan
    /// out would cost more than the scan saves. It is also the least a
    /// round scans per party.
    public static let defaultMinSlotsPerParty = 64
    /// immutable
    public let minSlotsPerParty: Int

    /// The job word: the job's generation (bits 32 and up), whether the
    /// team is released (bit 31), whether the job is closed to new helpers
    /// (bit 30), and the helpers working on it (the bits below). Only the
    /// coordinator moves the generation, and only when no helper is in.
    private let state = Atomic<Int>(0)
    private static var generationShift: Int { 32 }
    private static var releasedBit: Int { 1 << 31 }
    private static var closedBit: Int { 1 << 30 }
    private static var activeMask: Int { (1 << 30) - 1 }
    private let stateLine = CacheLinePad()
    /// Helpers wait here for the next job; the coordinator for the helpers
    /// in a closed job; a party for its turn in `run(inOrderOver:)`.
    private let jobs: WaitPoint
    private let drained: WaitPoint
    private let turns: WaitPoint
    /// The job of the current generation (nil: released). Written by the
    /// coordinator before it publishes the generation, read by a helper
    /// after it joined it.
    private var job: ((Int) -> Void)?
    /// Each party's own: thread CPU time of the parts of jobs it ran since
    /// the coordinator last collected it (after a job is drained), the last
    /// generation it saw, and what its waits cost.
    private let cpu: UnsafeMutableBufferPointer<Int64>
    private let seen: UnsafeMutableBufferPointer<Int>
    private let waiters: UnsafeMutableBufferPointer<Waiter>
    /// The next slot of the range being shared out (`run(over:chunk:)`);
    /// reset by the coordinator before each such run.
    private let cursor = Atomic<Int>(0)
    /// Claims write `cursor` while a party waiting for its turn spins
    /// reading `turn`.
    private let cursorLine = CacheLinePad()
    /// `run(inOrderOver:)`: the first slot of the chunk whose turn it is to
    /// add to the running total (every chunk before it has added), the
    /// total so far (written only by the chunk whose turn it is, read
    /// after `turn`'s acquire), whether it has reached the limit, and the
    /// slots measured. Reset by the coordinator before each such run.
    private let turn = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let limitReached = Atomic<Bool>(false)
    private let turnLine = CacheLinePad()
    private let measured = Atomic<Int>(0)
    /// One tally per slot of the pass being split; used by the coordinator
    /// only, between scans (grown there, never while a scan runs).
    var tallies: UnsafeMutableBufferPointer<ReapSlotTally>

    /// `minSlotsPerParty` below the default is for tests: it splits passes
    /// an eviction cap stops after a few slots. `spinNanos`: how long a
    /// party spins (for the next job, its turn, or the helpers to finish)
    /// before it parks.
    public init(parties: Int, minSlotsPerParty: Int = ReapTeam.defaultMinSlotsPerParty,
                spinNanos: Int64 = WaitPoint.defaultSpinNanos) {
        precondition(parties >= 2, "a team needs at least two parties, got \(parties)")
        precondition(parties <= ReapTeam.activeMask, "a team of \(parties) parties")
        precondition(minSlotsPerParty >= 1, "a round of \(minSlotsPerParty) slots per party")
        self.parties = parties
        self.minSlotsPerParty = minSlotsPerParty
        jobs = WaitPoint(spinNanos: spinNanos)
        drained = WaitPoint(spinNanos: spinNanos)
        turns = WaitPoint(spinNanos: spinNanos)
        cpu = .allocate(capacity: parties)
        cpu.initialize(repeating: 0)
        seen = .allocate(capacity: parties)
        seen.initialize(repeating: 0)
        waiters = .allocate(capacity: parties)
        waiters.initialize(repeating: Waiter())
        tallies = .allocate(capacity: 0)
    }

    deinit {
        cpu.deallocate()
        seen.deallocate()
        waiters.deallocate()
        tallies.deallocate()
    }

    /// What party `i`'s waits in the team cost. Preconditions: party i is
    /// not in the team (read after the run's threads joined).
    public func waitStats(_ i: Int) -> WaitStats { waiters[i].stats }

    /// Party `i` (1..<parties): joins every job it gets to while it is
    /// open, until `release`.
    public func serve(_ i: Int) {
        precondition(i > 0 && i < parties, "party \(i) out of 1..<\(parties)")
        var last = seen[i]
        defer { seen[i] = last }
        while true {
            jobs.wait(&waiters[i]) { self.state.load(ordering: .acquiring) >> Self.generationShift != last }
            let s = state.load(ordering: .acquiring)
            last = s >> Self.generationShift
            if s & Self.releasedBit != 0 { return }
            guard join(s) else { continue }
            let body = job!
            let c0 = threadCPUNanos()
            body(i)
            cpu[i] += threadCPUNanos() - c0
            leave()
        }
    }

    /// Counts this helper into the job `s` was read from, unless it has
    /// closed (or a later one was published) since.
    private func join(_ s: Int) -> Bool {
        var s = s
        while true {
            let open = s & (Self.releasedBit | Self.closedBit) == 0
            guard open else { return false }
            let (done, now) = state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing)
            if done { return true }
            // Another helper joined or left, or the job closed or moved on.
            guard now >> Self.generationShift == s >> Self.generationShift else { return false }
            s = now
        }
    }

    /// A helper is done with the job it joined: what it wrote is ordered
    /// before the coordinator's acquire of the count it leaves.
    private func leave() {
        let after = state.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        if after & Self.activeMask == 0 { drained.wake() }
    }

    /// The coordinator: publishes `body` as the next job, runs it as part
    /// 0, closes the job to helpers that have not joined, and waits for
    /// those that have; returns the CPU time they spent on it.
    func run(_ body: @escaping (Int) -> Void) -> Int64 {
        let s = state.load(ordering: .relaxed)
        // A release before this (the last boundary's) has been seen by
        // every helper: they crossed a window barrier since.
        assert(s & Self.activeMask == 0, "a job published while helpers are in the last one")
        job = body
        state.store(((s >> Self.generationShift) + 1) << Self.generationShift, ordering: .releasing)
        jobs.wake()
        body(0)
        _ = state.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing)
        drained.wait(&waiters[0]) { self.state.load(ordering: .acquiring) & Self.activeMask == 0 }
        job = nil
        var helpers: Int64 = 0
        for i in 1..<parties {
            helpers += cpu[i]
            cpu[i] = 0
        }
        return helpers
    }

    /// The coordinator: every party, itself as part 0, calls
    /// `body(part, range)` on chunks of `0..<n` it claims until none is
    /// left, so that a party on a slower CPU takes fewer (a VM's vCPUs
    /// run at different speeds when the host is busy, and an even split
    /// waits for the slowest); returns the other parties' CPU time.
    func run(over n: Int, chunk: Int, _ body: @escaping (Int, Range<Int>) -> Void) -> Int64 {
        precondition(chunk >= 1, "chunks of \(chunk)")
        cursor.store(0, ordering: .relaxed)
        return run { part in
            while true {
                let k = self.cursor.wrappingAdd(chunk, ordering: .relaxed).oldValue
                guard k < n else { return }
                body(part, k..<min(n, k + chunk))
            }
        }
    }

    /// The coordinator: every party, itself as part 0, claims chunks of
    /// `0..<n` in order as in `run(over:chunk:)` and calls
    /// `measure(part, range)` on each, which returns an amount; when every
    /// earlier chunk has added its amount to a running total, the party
    /// adds its own and calls `use(part, range, before)` with the total
    /// before its chunk, unless that had reached `limit`. Chunks are
    /// measured and used in parallel; only the adding is in order, so a
    /// party waits at most for the chunks claimed before its own to be
    /// measured. Once the total reaches `limit` no chunk is measured
    /// (those already claimed are not used). Returns the other parties'
    /// CPU time and the slots measured.
    func run(inOrderOver n: Int, chunk: Int, limit: Int,
             measure: @escaping (Int, Range<Int>) -> Int,
             use: @escaping (Int, Range<Int>, Int) -> Void) -> (cpu: Int64, measured: Int) {
        precondition(chunk >= 1, "chunks of \(chunk)")
        cursor.store(0, ordering: .relaxed)
        turn.store(0, ordering: .relaxed)
        total.store(0, ordering: .relaxed)
        limitReached.store(false, ordering: .relaxed)
        measured.store(0, ordering: .relaxed)
        let cpu = run { part in
            // Added once per party: an add per chunk would write a line
            // every party writes.
            var slots = 0
            defer { self.measured.wrappingAdd(slots, ordering: .relaxed) }
            while !self.limitReached.load(ordering: .relaxed) {
                let k = self.cursor.wrappingAdd(chunk, ordering: .relaxed).oldValue
                guard k < n else { return }
                let range = k..<min(n, k + chunk)
                // Set only by a chunk before this one: then this one is
                // past the limit whatever it holds.
                var amount = 0
                if !self.limitReached.load(ordering: .relaxed) {
                    amount = measure(part, range)
                    slots += range.count
                }
                self.waitForTurn(k, part: part)
                let before = self.total.load(ordering: .relaxed)
                if before < limit {
                    let after = before + amount
                    self.total.store(after, ordering: .relaxed)
                    if after >= limit { self.limitReached.store(true, ordering: .relaxed) }
                }
                self.turn.store(range.upperBound, ordering: .releasing)
                self.turns.wake()
                if before < limit { use(part, range, before) }
            }
        }
        return (cpu, measured.load(ordering: .relaxed))
    }

    /// Until every chunk before the one at `k` has added to the total.
    /// Those chunks are claimed by parties that joined, which add right
    /// after measuring; one whose CPU another process took is let run by
    /// parking.
    private func waitForTurn(_ k: Int, part: Int) {
        turns.wait(&waiters[part]) { self.turn.load(ordering: .acquiring) == k }
    }

    /// The chunk `run(over:chunk:)` shares `n` slots out in: small enough
    /// for a slower party to take fewer, large enough that a claim (an
    /// atomic add on a line every party writes) is rare.
    func chunk(for n: Int) -> Int { max(16, n / (parties * 8)) }

    /// The coordinator: ends every party's `serve` (each returns when it
    /// sees it; the coordinator does not wait for that).
    public func release() {
        let s = state.load(ordering: .relaxed)
        assert(s & Self.activeMask == 0, "released with helpers in a job")
        job = nil
        state.store((((s >> Self.generationShift) + 1) << Self.generationShift) | Self.releasedBit, ordering: .releasing)
        jobs.wake()
    }

    /// A tally buffer of at least `n` slots. Preconditions: no scan runs.
    func tallyBuffer(_ n: Int) -> UnsafeMutableBufferPointer<ReapSlotTally> {
        if tallies.count < n {
            tallies.deallocate()
            tallies = .allocate(capacity: n)
        }
        return UnsafeMutableBufferPointer(rebasing: tallies[0..<n])
    }
}
