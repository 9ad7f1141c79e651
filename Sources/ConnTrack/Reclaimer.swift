#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import struct Synchronization.Atomic

/// Deferred freeing of removed connections (quiescent-state based).
///
/// Go's garbage collector let the seed drop a connection while another
/// goroutine still held a pointer it had found before taking the connection
/// lock. Here a removed connection is retired, and freed only after every
/// registered thread has passed a quiescent point (it holds no connection
/// pointer) since the retirement. Threads announce quiescence once per
/// batch of packets, so the per-packet cost is nil.
public final class Reclaimer: @unchecked Sendable {
    public static let maxThreads = 64

    struct Slot: ~Copyable {
        /// Epoch the thread last saw at a quiescent point; .max when offline.
        let seen = Atomic<UInt64>(.max)
        // Own cache line per thread.
        let pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    }

    let global = Atomic<UInt64>(1)
    let registered = Atomic<Int>(0)
    let slots: UnsafeMutablePointer<Slot>
    /// The retire lock (rank: retire list, a leaf).
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// protected by mutex: connections removed since the last `collect`
    var fresh: UnsafeMutablePointer<ConnNode>? = nil
    /// protected by mutex
    var freshCount = 0
    /// protected by mutex: (epoch, list) waiting for every thread to pass it
    var pending: [(UInt64, UnsafeMutablePointer<ConnNode>?, Int)] = []
    /// protected by mutex
    public private(set) var freedTotal = 0
    /// protected by mutex: connections removed a second time (corruption)
    public private(set) var doubleRetire = 0

    /// When false, `collect` frees nothing (memory is freed with the table).
    public let enabled: Bool

    init(enabled: Bool = true) {
        self.enabled = enabled
        slots = .allocate(capacity: Self.maxThreads)
        for i in 0..<Self.maxThreads { (slots + i).initialize(to: Slot()) }
        mutex = .allocate(capacity: 1)
        PThread.initMutex(mutex)
    }

    deinit {
        slots.deinitialize(count: Self.maxThreads)
        slots.deallocate()
        PThread.destroyMutex(mutex)
        mutex.deallocate()
    }

    /// Registers a packet thread; it starts online. Returns its slot.
    public func register() -> Int {
        let i = registered.add(1, ordering: .relaxed).newValue - 1
        precondition(i < Self.maxThreads, "at most \(Self.maxThreads) threads may use one table")
        slots[i].seen.store(global.load(ordering: .acquiring), ordering: .releasing)
        return i
    }

    /// The thread in `slot` holds no connection pointer right now.
    @inline(__always)
    public func quiescent(_ slot: Int) {
        slots[slot].seen.store(global.load(ordering: .acquiring), ordering: .releasing)
    }

    /// The thread in `slot` stops using the table (it may come back with
    /// `quiescent`).
    public func offline(_ slot: Int) {
        slots[slot].seen.store(.max, ordering: .releasing)
    }

    /// Preconditions: the retire lock is not held; called with any bucket
    /// locks held (it is a leaf).

    func retire(_ c: UnsafeMutablePointer<ConnNode>) {
        pthread_mutex_lock(mutex)
        if c.pointee.retired {
            // Removed twice: only a corrupted table (an injected fault) does this.
            doubleRetire += 1
            pthread_mutex_unlock(mutex)
            return
        }
        c.pointee.retired = true
        c.pointee.retiredNext = fresh
        fresh = c
        freshCount += 1
        pthread_mutex_unlock(mutex)
    }

    /// Frees what every registered thread has moved past, and opens a new
    /// epoch for what was retired since the last call. The caller must be
    /// at a quiescent point itself. Returns connections freed.
    @discardableResult
    public func collect() -> Int {
        guard enabled else { return 0 }
        pthread_mutex_lock(mutex)
        if fresh != nil {
            let e = global.add(1, ordering: .acquiringAndReleasing).newValue - 1
            pending.append((e, fresh, freshCount))
            fresh = nil
            freshCount = 0
        }
        var minSeen = UInt64.max
        let n = registered.load(ordering: .acquiring)
        for i in 0..<n { minSeen = min(minSeen, slots[i].seen.load(ordering: .acquiring)) }
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
        pthread_mutex_unlock(mutex)
        return freed
    }

    public var doubleRetireCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return doubleRetire
    }

    /// Connections retired and not yet freed.
    public var outstanding: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return freshCount + pending.reduce(0) { $0 + $1.2 }
    }

    /// Hands over every retired, unfreed connection (the table frees them
    /// with its own). Preconditions: no other thread uses the table.
    func takeAll() -> [UnsafeMutablePointer<ConnNode>] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
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
