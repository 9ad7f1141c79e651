#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// Deferred freeing of removed connections (quiescent-state based).
///
/// Go's garbage collector let the seed drop a connection while another
/// goroutine still held a pointer it had found before taking the connection
/// lock. Here a removed connection is retired, and freed only after every
/// registered thread has passed a quiescent point (it holds no connection
/// pointer) since the retirement. Threads announce quiescence once per
/// batch of packets, so the per-packet cost is nil.
///
/// Designs that free connection memory own one and forward the
/// `ConnTrackTable` worker calls to it; callers never see it.
final class Reclaimer: @unchecked Sendable {
    static var maxThreads: Int { QuiescentEpochs.maxThreads }

    let epochs = QuiescentEpochs()
    /// The retire lock (rank: retire list, a leaf), taken through the rank
    /// checker by `retire` and `collect`.
    let mutex = HeapMutex()
    /// protected by mutex: connections removed since the last `collect`
    var fresh: UnsafeMutablePointer<ConnNode>? = nil
    /// protected by mutex
    var freshCount = 0
    /// protected by mutex: (epoch, list) waiting for every thread to pass it
    var pending: [(UInt64, UnsafeMutablePointer<ConnNode>?, Int)] = []
    /// protected by mutex
    private(set) var freedTotal = 0
    /// protected by mutex: connections removed a second time (corruption)
    private(set) var doubleRetire = 0

    /// immutable: when false, `collect` frees nothing (memory is freed with
    /// the table).
    let enabled: Bool

    init(enabled: Bool = true) {
        self.enabled = enabled
    }

    /// Registers a packet thread; it starts online. Returns its slot.
    func register() -> Int { epochs.register() }

    /// The thread in `slot` holds no connection pointer right now.
    @inline(__always)
    func quiescent(_ slot: Int) { epochs.quiescent(slot) }

    /// The thread in `slot` stops using the table (it may come back with
    /// `quiescent`).
    func offline(_ slot: Int) { epochs.offline(slot) }

    /// Preconditions: the retire lock is not held; called with any bucket
    /// locks held (it is a leaf).
    func retire(_ c: UnsafeMutablePointer<ConnNode>, _ ctx: inout WorkerContext) {
        mutex.lock(&ctx.locks, rank: .retireList)
        defer { mutex.unlock(&ctx.locks, rank: .retireList) }
        if c.pointee.retired {
            // Removed twice: only a corrupted table (an injected fault) does this.
            doubleRetire += 1
            return
        }
        c.pointee.retired = true
        c.pointee.retiredNext = fresh
        fresh = c
        freshCount += 1
    }

    /// Frees what every registered thread has moved past, and opens a new
    /// epoch for what was retired since the last call. The caller must be
    /// at a quiescent point itself. Returns connections freed.
    @discardableResult
    func collect(_ ctx: inout WorkerContext) -> Int {
        guard enabled else { return 0 }
        mutex.lock(&ctx.locks, rank: .retireList)
        defer { mutex.unlock(&ctx.locks, rank: .retireList) }
        if fresh != nil {
            let e = epochs.advance()
            pending.append((e, fresh, freshCount))
            fresh = nil
            freshCount = 0
        }
        let minSeen = epochs.minSeen()
        var freed = 0
        var keep: [(UInt64, UnsafeMutablePointer<ConnNode>?, Int)] = []
        for (e, list, count) in pending {
            // Threads that saw an epoch > e passed a quiescent point after
            // the list was retired.
            if minSeen > e {
                var c = list
                while let x = c { c = x.pointee.retiredNext; ConnNode.destroy(x) }
                freed += count
            } else {
                keep.append((e, list, count))
            }
        }
        pending = keep
        freedTotal += freed
        return freed
    }

    /// Connections retired and not yet freed.
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

    /// Hands over every retired, unfreed connection (the table frees them
    /// with its own). Preconditions: no other thread uses the table.
    func takeAll() -> [UnsafeMutablePointer<ConnNode>] {
        mutex.lock()
        defer { mutex.unlock() }
        var out: [UnsafeMutablePointer<ConnNode>] = []
        var lists = pending.map { $0.1 }
        lists.append(fresh)
        for l in lists {
            var c = l
            while let x = c { c = x.pointee.retiredNext; out.append(x) }
        }
        freedTotal += out.count
        pending = []
        fresh = nil
        freshCount = 0
        return out
    }
}
