#if canImport(Glibc)
import Glibc
#endif
import Sync
import struct Synchronization.Atomic

/// The data-race detector's self-test (`selftest data-race-pair`, run by
/// `scripts/tsan-races --self-test`): a design with a fault that skips a
/// lock declares, in `DesignTraits.dataRacePairSelftest`, two steps that
/// each make an access the skipped lock should have ordered, on two
/// threads that nothing orders for ThreadSanitizer, so the conflict is
/// reported whatever the schedule. (A stress run with the fault reported
/// it only when the two threads met between the locks they share, which
/// was luck.) What ThreadSanitizer counts as ordering was found by trying:
/// a lock both steps take (the bucket table's read lock) orders them, so
/// there the second step runs while the first is paused right after its
/// edit (`Flags.pause`).
public enum DataRaceSelftest {
    /// The designs that declare one, in registry order.
    public static var designs: [any ConnTrackTable.Type] {
        TableDesigns.all.filter { $0.traits.dataRacePairSelftest != nil }
    }

    /// The calling thread's kernel id (/proc/thread-self names
    /// "PID/task/TID"; Glibc's `gettid` is not visible to Swift).
    static func threadID() -> Int32 {
        var buf = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buf, buf.count - 1)
        precondition(n > 0, "readlink(/proc/thread-self) failed")
        let text = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int32(text.split(separator: "/").last ?? "") ?? 0
    }

    /// How the second step waits for the first, or for its access.
    final class Flags: Sendable {
        let go = Atomic<Int>(0)
        /// The first thread's kernel id, published with a relaxed store.
        let firstTID = Atomic<Int32>(0)
        let secondMayGo = Atomic<Int>(0)
        let secondDone = Atomic<Int>(0)
        let paused = Atomic<Bool>(false)

        /// Called by the first step right after its access, from inside the
        /// design: lets the second step go and waits for it to be done,
        /// so that whatever the first step releases afterwards (the bucket
        /// table's read lock) cannot order its access before the second.
        func pause() {
            // Once: the second step may reach the same fault (relaxed: an
            // exchange that orders nothing).
            guard !paused.exchange(true, ordering: .relaxed) else { return }
            secondMayGo.store(1, ordering: .relaxed)
            while secondDone.load(ordering: .relaxed) == 0 { OSThread.sleep(nanoseconds: 100_000) }
        }
    }

    /// Runs `first` on one thread and then `second` on another. Both
    /// threads exist before either step runs (so neither is ordered after
    /// the other by its creation). The second runs once the first thread
    /// has ended, seen by its /proc/self/task entry going away (which,
    /// unlike a join, orders nothing for ThreadSanitizer); with
    /// `pausing`, it runs instead while the first is paused in
    /// `Flags.pause`, which the design calls.
    static func unordered(pausing: Bool = false, _ first: @escaping @Sendable (Flags) -> Void,
                          _ second: @escaping @Sendable () -> Void) {
        let f = Flags()
        let a = OSThread {
            f.firstTID.store(threadID(), ordering: .relaxed)
            while f.go.load(ordering: .relaxed) == 0 { OSThread.sleep(nanoseconds: 100_000) }
            first(f)
        }
        let b = OSThread {
            if pausing {
                while f.secondMayGo.load(ordering: .relaxed) == 0 { OSThread.sleep(nanoseconds: 100_000) }
            } else {
                var tid: Int32 = 0
                while tid == 0 { tid = f.firstTID.load(ordering: .relaxed); OSThread.sleep(nanoseconds: 100_000) }
                while access("/proc/self/task/\(tid)", F_OK) == 0 { OSThread.sleep(nanoseconds: 100_000) }
            }
            second()
            f.secondDone.store(1, ordering: .relaxed)
        }
        f.go.store(1, ordering: .relaxed)
        b.join()
        a.join()
    }

    /// A TCP flow's three handshake packets, then one data segment per
    /// step: for faults that update a connection's state without its lock.
    static func sameConnection<T: ConnTrackTable>(_ table: T) -> TupleID {
        let flow = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                           dstPort: 80, transProto: .tcp, netProto: .ipv4)
        var ctx = WorkerContext(name: "setup", checkLockOrder: false)
        for p in [Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1000, window: 65535), hook: .output),
                  Packet(id: flow.reversed, tcp: TCPSegment(flags: [.syn, .ack], seq: 5000, ack: 1001, window: 65535), hook: .prerouting),
                  Packet(id: flow, tcp: TCPSegment(flags: .ack, seq: 1001, ack: 5001, window: 65535), hook: .output)] {
            _ = table.handlePacket(p, clock: VirtualClock(0), &ctx)
        }
        unordered({ _ in
            var ctx = WorkerContext(name: "first", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .ack, seq: 1001, ack: 5001, window: 65535, payloadLength: 100),
                                          hook: .output), clock: VirtualClock(1_000_000), &ctx)
        }, {
            var ctx = WorkerContext(name: "second", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .ack, seq: 1101, ack: 5001, window: 65535, payloadLength: 100),
                                          hook: .output), clock: VirtualClock(2_000_000), &ctx)
        })
        return flow
    }

    /// Two connections whose reply tuples share slot `high` (by `slot`)
    /// and whose original tuples sit in lower slots with locks (by `lock`)
    /// of their own are created, the second after the first, so its reply
    /// comes first in `high`'s list; the first step removes the second
    /// connection with a pass over its original's slot alone (the fault
    /// unlinks its reply without `high`'s lock, rewriting the other reply's
    /// back link); the second step removes the other connection the same
    /// way, reading that back link. Neither pass locks `high`. For faults
    /// that edit a partner's list without its lock.
    ///
    /// `pause` installs the design's hook right after its unlocked edit
    /// (`Flags.pause`): where the first step releases something the second
    /// acquires before its access (the bucket table's read lock), the
    /// second step must run inside it.
    static func partnerList<T: ConnTrackTable>(_ table: T, slot: (TupleID) -> Int, lock: ((TupleID) -> Int)? = nil,
                                               pause: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil) -> (first: Int, second: Int, high: Int) {
        func tuple(_ a: UInt32, _ port: UInt16) -> TupleID {
            TupleID(srcAddr: IPAddress(v4: 0x0a00_0000 | a), srcPort: port, dstAddr: IPAddress(v4: 0x0a00_0000 | (a + 1)),
                    dstPort: 80, transProto: .tcp, netProto: .ipv4)
        }
        func lockOf(_ id: TupleID) -> Int { lock?(id) ?? slot(id) }
        var early = tuple(1, 1000)
        while slot(early) >= slot(early.reversed) || lockOf(early) == lockOf(early.reversed) { early.srcPort &+= 1 }
        let high = slot(early.reversed)
        // The other: reply in `high`, original below it under a lock of
        // its own.
        let used = [lockOf(early), lockOf(early.reversed)]
        var late = tuple(3, 2000)
        while slot(late.reversed) != high || slot(late) >= high || used.contains(lockOf(late)) { late.srcPort &+= 1 }
        // A removal elsewhere first: lazily initialised globals the steps
        // use (a `swift_once` each) are initialised here, not by the first
        // step after its edit, which would order it before the second
        // step's first use of them.
        let busy = Set(used + [lockOf(late)])
        var warm = tuple(7, 3000)
        while slot(warm) >= slot(warm.reversed) || busy.contains(lockOf(warm)) || busy.contains(lockOf(warm.reversed)) {
            warm.srcPort &+= 1
        }
        var ctx = WorkerContext(name: "setup", checkLockOrder: false)
        for id in [warm, early, late] {
            _ = table.handlePacket(Packet(id: id, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output), clock: VirtualClock(0), &ctx)
        }
        _ = table.reapPass(start: slot(warm), maxSlots: 1, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        let (a, b) = (slot(late), slot(early))
        @Sendable func remove(_ start: Int, _ name: String) {
            var ctx = WorkerContext(name: name, checkLockOrder: false)
            _ = table.reapPass(start: start, maxSlots: 1, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        }
        unordered(pausing: pause != nil, { flags in
            pause?({ flags.pause() })
            remove(a, "first")
        }, { remove(b, "second") })
        return (a, b, high)
    }
}
