import ConnTrack
import Sync

/// Worker contexts handed back at the end: each worker sets its own when it
/// finishes, the driver reads them all after every worker joined.
final class ContextBox: @unchecked Sendable {
    let m = HeapMutex()
    /// protected by m
    var v: [WorkerContext?]
    init(_ n: Int) { v = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ c: WorkerContext) { m.withLock { v[i] = c } }
    func all() -> [WorkerContext] { m.withLock { v.compactMap { $0 } } }
}
