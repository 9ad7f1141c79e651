import Sync
import struct Synchronization.Atomic
import func Synchronization.atomicMemoryFence

/// The epoch half of quiescent-state reclamation, shared by every design
/// that defers freeing (connection blocks, pool entries).
///
/// Each registered thread publishes the global epoch it last saw at a
/// quiescent point (a point where it holds no reference into the table).
/// Something retired while the epoch was `e` may be reused once every
/// registered thread has seen an epoch greater than `e`.
final class QuiescentEpochs: @unchecked Sendable {
    // 64 workers (the most --threads allows), the reaper, the operation
    // thread (--op) and a spare.
    static let maxThreads = 68

    struct Slot: ~Copyable {
        /// Epoch the thread last saw at a quiescent point; .max when offline.
        let seen = Atomic<UInt64>(.max)
        // Own cache line per thread.
        let pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    }

    let global = Atomic<UInt64>(1)
    let registered = Atomic<Int>(0)
    /// The epoch an unregistered walker saw when its walk began; .max
    /// between walks. A sweep walks lists without a lock from the reaper's
    /// thread, which is not a registered worker (`walkBegin`).
    let walkerSeen = Atomic<UInt64>(.max)
    let slots: UnsafeMutablePointer<Slot>

    init() {
        slots = .allocate(capacity: Self.maxThreads)
        for i in 0..<Self.maxThreads { (slots + i).initialize(to: Slot()) }
    }

    deinit {
        slots.deinitialize(count: Self.maxThreads)
        slots.deallocate()
    }

    /// Registers a packet thread; it starts online. Returns its slot.
    func register() -> Int {
        let i = registered.add(1, ordering: .relaxed).newValue - 1
        precondition(i < Self.maxThreads, "at most \(Self.maxThreads) threads may use one table")
        slots[i].seen.store(global.load(ordering: .acquiring), ordering: .releasing)
        return i
    }

    /// The thread in `slot` holds no reference into the table right now.
    @inline(__always)
    func quiescent(_ slot: Int) {
        slots[slot].seen.store(global.load(ordering: .acquiring), ordering: .releasing)
    }

    /// The thread in `slot` stops using the table (it may come back with
    /// `quiescent`).
    func offline(_ slot: Int) {
        slots[slot].seen.store(.max, ordering: .releasing)
    }

    /// Closes the current epoch: what was retired before this call is
    /// tagged with the returned value.
    func advance() -> UInt64 {
        global.add(1, ordering: .acquiringAndReleasing).newValue - 1
    }

    /// An unregistered walker (a reaper pass, one at a time) begins to walk
    /// links without a lock: nothing retired from now on is reused before
    /// `walkEnd`. Sequentially consistent with `minSeen`: either a
    /// collector reads this walk's epoch, or the walk began after the
    /// collector closed the epoch, and cannot reach what was retired before.
    /// Preconditions: no other walk of these epochs is under way.
    func walkBegin() {
        let began = walkerSeen.compareExchange(expected: .max, desired: global.load(ordering: .sequentiallyConsistent),
                                               ordering: .sequentiallyConsistent).exchanged
        precondition(began, "two unregistered walks of one table overlap")
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// The walk `walkBegin` began is over: the walker holds no link.
    func walkEnd() { walkerSeen.store(.max, ordering: .releasing) }

    /// A grace period (`synchronize_net`) for something unlinked before
    /// this call, such as a replaced index or hash array: returns once every
    /// registered thread has passed a quiescent point since, and
    /// `othersDone(e)` holds for the epoch `e` it closed (readers that are
    /// not registered and not counted by `walkBegin`). Looks every
    /// millisecond, asleep in between. Preconditions: the caller,
    /// registered in `slot`, holds no reference into the table.
    func synchronize(slot: Int, until othersDone: (UInt64) -> Bool = { _ in true }) {
        let e = advance()
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        quiescent(slot)
        while minSeen() <= e || !othersDone(e) {
            OSThread.sleep(nanoseconds: 1_000_000)
        }
    }

    /// The oldest epoch any registered thread, or a walk under way, may
    /// still be in; a list tagged `e` is safe to reuse when `e < minSeen()`.
    func minSeen() -> UInt64 {
        // Orders the caller's `advance` before the walker's epoch is read.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        var m = walkerSeen.load(ordering: .sequentiallyConsistent)
        let n = registered.load(ordering: .acquiring)
        for i in 0..<n { m = min(m, slots[i].seen.load(ordering: .acquiring)) }
        return m
    }
}
