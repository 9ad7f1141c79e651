import Sync

// The connection lock, shared by every design built on `ConnNode`.
extension UnsafeMutablePointer where Pointee == ConnNode {
    /// The connection lock as a lock of the declared order.
    @inline(__always)
    var rankedLock: RankedLock<PThreadMutexRef> { RankedLock(PThreadMutexRef(mutexPtr), rank: .connection) }
}

/// Takes a connection's lock through the rank checker and the
/// connection-lock counters.
@inline(__always)
func lockConnection(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext,
                    file: StaticString = #fileID, line: UInt = #line) {
    c.rankedLock.lock(&ctx.locks, counting: &ctx.stats.connLock, file: file, line: line)
}

/// Preconditions: this thread holds c's lock (taken by `lockConnection`).
@inline(__always)
func unlockConnection(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) {
    c.rankedLock.unlock(&ctx.locks)
}
