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
public final class ReapTeam: @unchecked Sendable {
    public let parties: Int
    /// A pass over fewer slots than this per party (or expected to stop
    /// within as many, at an eviction cap) is walked alone: the two
    /// barrier crossings of a round would cost more than the scan saves.
    /// It is also the least a round scans per party.
    public static let defaultMinSlotsPerParty = 64
    /// immutable
    public let minSlotsPerParty: Int
    /// How long a party waits spinning for the next scan before it sleeps.
    /// Between two scans the coordinator removes what the last one found
    /// and plans the next pass, often for longer than a window barrier's
    /// spin; a party asleep then costs a wake-up (tens of µs on a VM) on
    /// every scan. The team exists only while passes are due at a
    /// boundary, where every party would otherwise idle anyway.
    static let spinNanos: Int64 = 2_000_000
    let barrier: Barrier
    /// The scan in progress (nil: released). Written by the coordinator
    /// before the barrier that starts it, read by the parties after it.
    private var job: ((Int) -> Void)?
    /// Thread CPU time of each party's part of the last scan, written by
    /// that party before the barrier that ends it.
    private let cpu: UnsafeMutableBufferPointer<Int64>
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
    /// an eviction cap stops after a few slots.
    public init(parties: Int, minSlotsPerParty: Int = ReapTeam.defaultMinSlotsPerParty) {
        precondition(parties >= 2, "a team needs at least two parties, got \(parties)")
        precondition(minSlotsPerParty >= 1, "a round of \(minSlotsPerParty) slots per party")
        self.parties = parties
        self.minSlotsPerParty = minSlotsPerParty
        barrier = Barrier(parties: parties, spinNanos: Self.spinNanos)
        cpu = .allocate(capacity: parties)
        cpu.initialize(repeating: 0)
        tallies = .allocate(capacity: 0)
    }

    deinit {
        cpu.deallocate()
        tallies.deallocate()
    }

    /// Party `i` (1..<parties): runs its part of every scan until `release`.
    public func serve(_ i: Int) {
        precondition(i > 0 && i < parties, "party \(i) out of 1..<\(parties)")
        while true {
            barrier.wait()
            guard let body = job else { return }
            let c0 = threadCPUNanos()
            body(i)
            cpu[i] = threadCPUNanos() - c0
            barrier.wait()
        }
    }

    /// The coordinator: runs `body(part)` for every part at once, itself
    /// taking part 0, and returns the CPU time the other parties spent.
    func run(_ body: @escaping (Int) -> Void) -> Int64 {
        job = body
        barrier.wait()
        body(0)
        barrier.wait()
        job = nil
        var helpers: Int64 = 0
        for i in 1..<parties { helpers += cpu[i] }
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
                self.waitForTurn(k)
                let before = self.total.load(ordering: .relaxed)
                if before < limit {
                    let after = before + amount
                    self.total.store(after, ordering: .relaxed)
                    if after >= limit { self.limitReached.store(true, ordering: .relaxed) }
                }
                self.turn.store(range.upperBound, ordering: .releasing)
                if before < limit { use(part, range, before) }
            }
        }
        return (cpu, measured.load(ordering: .relaxed))
    }

    /// Until every chunk before the one at `k` has added to the total.
    /// Those chunks are claimed by running parties, which add right after
    /// measuring; a party whose CPU is taken is let run after a while.
    private func waitForTurn(_ k: Int) {
        var spins = 0
        while turn.load(ordering: .acquiring) != k {
            spins += 1
            if spins > 4096 { sched_yield() }
        }
    }

    /// The chunk `run(over:chunk:)` shares `n` slots out in: small enough
    /// for a slower party to take fewer, large enough that a claim (an
    /// atomic add on a line every party writes) is rare.
    func chunk(for n: Int) -> Int { max(16, n / (parties * 8)) }

    /// The coordinator: ends every party's `serve`.
    public func release() {
        job = nil
        barrier.wait()
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
