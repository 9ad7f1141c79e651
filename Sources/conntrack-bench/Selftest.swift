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
    @Option(help: "A design that declares the self-test (--list-designs; buckets: bucket locks, fast: stripe locks under a NAT connection's two slots).")
    var design: String = LockOrderSelftest.designs.first?.traits.name ?? ""
    @Flag(help: "Print the designs that declare this self-test, one per line, and exit.")
    var listDesigns = false

    mutating func run() throws {
        if listDesigns {
            for d in LockOrderSelftest.designs { writeLine(1, d.traits.name) }
            return
        }
        guard let selftest = TableDesigns.named(design)?.traits.lockOrderPairSelftest else {
            let names = LockOrderSelftest.designs.map { $0.traits.name }.joined(separator: " or ")
            throw ValidationError("--design must be \(names), got '\(design)'")
        }
        writeLine(1, selftest())
    }
}
