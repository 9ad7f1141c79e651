import Sync

// Export and import of the intrusive connection block, shared by the
// designs built on `ConnNode`.
extension UnsafeMutablePointer where Pointee == ConnNode {
    /// The connection as a record. Preconditions: its lock is held.
    func record(_ timeouts: Timeouts, now: Int64) -> ConnectionRecord {
        ConnectionRecord(original: pointee.original.id, reply: pointee.reply.id, hook: pointee.tcbHook,
                         nat: pointee.natRedirect, tcb: pointee.tcb, udp: pointee.udp, lastUsed: pointee.lastUsed,
                         timeoutLeft: timeRemaining(self, timeouts, now: now))
    }

    /// The connection as a record, read under its lock.
    func lockedRecord(_ timeouts: Timeouts, now: Int64) -> ConnectionRecord {
        PThread.lock(mutexPtr)
        defer { PThread.unlock(mutexPtr) }
        return record(timeouts, now: now)
    }
}

extension ConnNode {
    /// A new, unpublished connection holding a record's state.
    static func make(from r: ConnectionRecord, adaptiveMutex: Bool = false, cacheAligned: Bool = true) -> UnsafeMutablePointer<ConnNode> {
        let c = make(original: r.original, reply: r.reply, hook: r.hook, now: r.lastUsed, nat: r.nat,
                     adaptiveMutex: adaptiveMutex, cacheAligned: cacheAligned)
        c.pointee.tcb = r.tcb
        c.pointee.udp = r.udp
        return c
    }
}
