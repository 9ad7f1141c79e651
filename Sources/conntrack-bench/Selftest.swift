import ArgumentParser
import ConnTrack
import Sync

/// Hidden subcommand for the detectors' self-tests
/// (`scripts/tsan-lockorder --self-test`).
struct Selftest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exercise a detector deterministically (for the detectors' self-tests).",
        shouldDisplay: false)

    enum Kind: String, ExpressibleByArgument { case lockOrderPair = "lock-order-pair" }

    @Argument(help: "lock-order-pair: one thread inserts with the descending-lock-order fault (high bucket, then low), is joined, then a second thread reaps that connection from the lower bucket (low, then high).")
    var kind: Kind

    mutating func run() throws {
        // Both orders of one bucket pair, from two threads that never run at
        // the same time: a lock-order detector sees the cycle, and the run
        // cannot deadlock for real.
        let table = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed, faults: [.descendingLockOrder]))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        // A flow whose two tuples sit in different buckets.
        while table.bucketIndex(id) == table.bucketIndex(id.reversed) { id.srcPort &+= 1 }
        let flow = id
        // A stays alive (parked at the barrier) while B runs, so the
        // detector still knows A's lock history; their critical sections
        // never overlap.
        let turn = Barrier(parties: 2)
        let a = OSThread {
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output),
                                   clock: VirtualClock(0), &ctx)
            turn.wait()
            turn.wait()
        }
        let b = OSThread {
            turn.wait()
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
            turn.wait()
        }
        a.join()
        b.join()
        let left = table._checkInvariants(uniqueIDs: nil).connections
        writeLine(1, "selftest lock-order-pair: buckets \(table.bucketIndex(flow)) and \(table.bucketIndex(flow.reversed)) locked in both orders by two threads; \(left) connection(s) left")
    }
}
