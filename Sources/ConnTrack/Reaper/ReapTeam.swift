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
