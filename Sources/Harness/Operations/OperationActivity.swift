import Sync
import struct Synchronization.Atomic

/// Which operation (`--op`) is running, for a paced run's workers to name
/// the one that ran during a pause: 2k - 1 while operation k (from 1, as
/// the report lists them) runs, 2k after. Written by the operation thread,
/// read at batch boundaries, on a line of its own. Also the connections
/// the operations removed so far, for the live-connection estimates (the
/// operation thread's counters are merged only at the end of the run).
final class OperationActivity: @unchecked Sendable {
    private let padBefore = CacheLinePad()
    private let value = Atomic<UInt64>(0)
    private let removed = Atomic<Int64>(0)
    private let padAfter = CacheLinePad()

    /// Connections removed by operations that have ended (flush, delete).
    var removedSoFar: Int64 { removed.load(ordering: .relaxed) }

    /// An operation that ended removed `n` connections.
    func didRemove(_ n: Int) { removed.add(Int64(n), ordering: .relaxed) }

    var current: UInt64 { value.load(ordering: .relaxed) }

    /// Operation k (from 1) starts or ends.
    func begin(_ k: Int) { value.store(2 &* UInt64(k) &- 1, ordering: .relaxed) }
    func end(_ k: Int) { value.store(2 &* UInt64(k), ordering: .relaxed) }
}
