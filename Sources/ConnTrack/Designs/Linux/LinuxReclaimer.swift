import Sync

/// Deferred freeing of the `linux` design's removed connections: the
/// quiescent-state stand-in for RCU. A removed connection is retired and
/// freed once every registered thread has passed a quiescent point since,
/// so a lock-free lookup that read a link to it never reads freed memory
/// (Linux frees with `SLAB_TYPESAFE_BY_RCU` instead; docs/linux-design.md).
final class LinuxReclaimer: @unchecked Sendable {
    let epochs = QuiescentEpochs()
    /// The retire lock (rank: retire list, a leaf).
    let mutex = HeapMutex()
    /// protected by mutex: connections retired since the last `collect`
    var fresh: UnsafeMutableRawPointer? = nil
    /// protected by mutex
    var freshCount = 0
    /// protected by mutex: (epoch, list, count) waiting for every thread to pass it
    var pending: [(UInt64, UnsafeMutableRawPointer?, Int)] = []
    /// protected by mutex: connections removed a second time (corruption)
    var doubleRetire = 0
    /// immutable: when false nothing is freed before the table is.
    let enabled: Bool

    init(enabled: Bool) { self.enabled = enabled }

    /// Preconditions: the connection is unlinked from both chains. Called
    /// with any stripe lock held or none (it is a leaf).
    func retire(_ c: LinuxConn, _ ctx: inout WorkerContext) {
        mutex.lock(&ctx.locks, rank: .retireList)
        defer { mutex.unlock(&ctx.locks, rank: .retireList) }
        if c.retired.pointee != 0 {
            doubleRetire += 1
            return
        }
        c.retired.pointee = 1
        c.retiredNext.pointee = fresh
        fresh = c.base
        freshCount += 1
    }

    /// Frees what every registered thread has moved past and opens an
    /// epoch for what was retired since. The caller is at a quiescent point.
    func collect(_ ctx: inout WorkerContext) {
        guard enabled else { return }
        mutex.lock(&ctx.locks, rank: .retireList)
        defer { mutex.unlock(&ctx.locks, rank: .retireList) }
        if fresh != nil {
            pending.append((epochs.advance(), fresh, freshCount))
            fresh = nil
            freshCount = 0
        }
        // Includes a collector pass under way (`sweepBegin`).
        let minSeen = epochs.minSeen()
        pending.removeAll { e in
            guard minSeen > e.0 else { return false }
            var p = e.1
            while let x = p {
                let c = LinuxConn(x)
                p = c.retiredNext.pointee
                LinuxConn.destroy(c)
            }
            return true
        }
    }

    /// A collector pass begins: it walks chains without a lock from the
    /// reaper's thread, which is not a registered worker, so nothing
    /// retired from now on is freed before `sweepEnd`. Passes never overlap
    /// (the reaper runs them one at a time; the end-of-run sweep runs after
    /// it stopped).
    func sweepBegin() { epochs.walkBegin() }

    func sweepEnd() { epochs.walkEnd() }

    var backlog: Int {
        mutex.lock()
        defer { mutex.unlock() }
        return freshCount + pending.reduce(0) { $0 + $1.2 }
    }

    var doubleRetireCount: Int {
        mutex.lock()
        defer { mutex.unlock() }
        return doubleRetire
    }

    /// Every retired, unfreed connection. Preconditions: no other thread
    /// uses the table.
    func takeAll() -> [LinuxConn] {
        mutex.lock()
        defer { mutex.unlock() }
        var out: [LinuxConn] = []
        for l in pending.map(\.1) + [fresh] {
            var p = l
            while let x = p { let c = LinuxConn(x); p = c.retiredNext.pointee; out.append(c) }
        }
        pending = []
        fresh = nil
        freshCount = 0
        return out
    }
}
