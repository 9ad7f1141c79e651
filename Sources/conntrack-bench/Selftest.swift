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
    @Option(help: "The design: buckets (bucket locks) or fast (stripe locks, a NAT connection whose two slots sit under two stripes).")
    var design: String = "buckets"

    mutating func run() throws {
        switch design {
        case "buckets": bucketPair()
        case FastTable.traits.name: fastPair()
        default: throw ValidationError("--design must be buckets or fast, got '\(design)'")
        }
    }

    /// Runs `insert` on one thread, then `reap` on a second, never at once.
    func inTurn(_ insert: @escaping @Sendable () -> Void, _ reap: @escaping @Sendable () -> Void) {
        // A stays alive (parked at the barrier) while B runs, so the
        // detector still knows A's lock history; their critical sections
        // never overlap.
        let turn = Barrier(parties: 2)
        let a = OSThread { insert(); turn.wait(); turn.wait() }
        let b = OSThread { turn.wait(); reap(); turn.wait() }
        a.join()
        b.join()
    }

    func fastPair() {
        var cfg = TableConfig(buckets: 64, hashSeed: 1, faults: [.descendingLockOrder])
        cfg.expectedConnections = 4096
        let table = FastTable(cfg)
        let target = (IPAddress(v4: 0xAC10_0009), UInt16(9999))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        // A NAT connection whose two slots sit under different stripes.
        while table.stripeOf(id) == table.stripeOf(id.redirectedReply(to: target.0, port: target.1)) { id.srcPort &+= 1 }
        let flow = id
        inTurn({
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output, nat: target),
                                   clock: VirtualClock(0), &ctx)
        }, {
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        })
        let left = table._checkInvariants(uniqueIDs: nil).connections
        writeLine(1, "selftest lock-order-pair --design fast: stripes \(table.stripeOf(flow)) and \(table.stripeOf(flow.redirectedReply(to: target.0, port: target.1))) locked in both orders by two threads; \(left) connection(s) left")
    }

    func bucketPair() {
        // Both orders of one bucket pair, from two threads that never run at
        // the same time: a lock-order detector sees the cycle, and the run
        // cannot deadlock for real.
        let table = BucketTable(TableConfig(buckets: 64, hashSeed: 1, variant: .fixed, faults: [.descendingLockOrder]))
        var id = TupleID(srcAddr: IPAddress(v4: 0x0a00_0001), srcPort: 1000, dstAddr: IPAddress(v4: 0x0a00_0002),
                         dstPort: 80, transProto: .tcp, netProto: .ipv4)
        // A flow whose two tuples sit in different buckets.
        while table.bucketIndex(id) == table.bucketIndex(id.reversed) { id.srcPort &+= 1 }
        let flow = id
        inTurn({
            var ctx = WorkerContext(name: "inserter", checkLockOrder: false)
            _ = table.handlePacket(Packet(id: flow, tcp: TCPSegment(flags: .syn, seq: 1), hook: .output),
                                   clock: VirtualClock(0), &ctx)
        }, {
            var ctx = WorkerContext(name: "reaper", checkLockOrder: false)
            _ = table.reapPass(start: 0, maxSlots: table.sweepSlots, maxEvictions: .max, now: 1_000 * Duration_ns.second, &ctx)
        })
        let left = table._checkInvariants(uniqueIDs: nil).connections
        writeLine(1, "selftest lock-order-pair: buckets \(table.bucketIndex(flow)) and \(table.bucketIndex(flow.reversed)) locked in both orders by two threads; \(left) connection(s) left")
    }
}
