import ArgumentParser
import ConnTrack
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// Hidden subcommand for the detectors' self-tests
/// (`scripts/tsan-lockorder --self-test`).
struct Selftest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exercise a detector deterministically (for the detectors' self-tests).",
        shouldDisplay: false)

    enum Kind: String, ExpressibleByArgument {
        case lockOrderPair = "lock-order-pair"
        case dataRacePair = "data-race-pair"
        case secondSignal = "second-signal"
    }

    @Argument(help: "lock-order-pair: one thread inserts with the descending-lock-order fault (high bucket, then low), is joined, then a second thread reaps that connection from the lower bucket (low, then high). data-race-pair: two threads that nothing orders make two accesses the design's lock-skipping fault leaves unordered (scripts/tsan-races --self-test). second-signal: the stop handlers of a run are installed and SIGTERM raised twice: the first asks to stop, the second must end the process at once with 143 (scripts/ci-extra).")
    var kind: Kind
    @Option(help: "A design that declares the self-test (--list-designs), or plugin:PATH for the example plugin with its fault in CTB_EXAMPLE_FAULT (descending-lock-order, skip-bucket-lock).")
    var design: String?
    @Flag(help: "Print the designs that declare this self-test, one per line, and exit.")
    var listDesigns = false

    mutating func run() throws {
        if kind == .secondSignal {
            StopSignal.install()
            raise(SIGTERM)
            guard StopSignal.requested == SIGTERM else { throw ValidationError("the first SIGTERM did not ask to stop") }
            writeLine(1, "selftest second-signal: the first SIGTERM asked the run to stop")
            raise(SIGTERM)
            writeLine(2, "selftest second-signal: the second SIGTERM did not end the process")
            throw ExitCode(1)
        }
        let designs = kind == .lockOrderPair ? LockOrderSelftest.designs : DataRaceSelftest.designs
        if listDesigns {
            for d in designs { writeLine(1, d.traits.name) }
            return
        }
        let name = design ?? designs.first?.traits.name ?? ""
        if PluginLoader.isPluginSpec(name) {
            let run = kind == .dataRacePair ? DataRaceSelftest.examplePlugin : LockOrderSelftest.examplePlugin
            guard let line = run(name) else {
                throw ValidationError(TableDesigns.loadError(name) ?? "\(name) does not load")
            }
            writeLine(1, line)
            return
        }
        let traits = TableDesigns.named(name)?.traits
        guard let selftest = kind == .lockOrderPair ? traits?.lockOrderPairSelftest : traits?.dataRacePairSelftest else {
            let names = designs.map { $0.traits.name }.joined(separator: " or ")
            throw ValidationError("--design must be \(names) or plugin:PATH, got '\(name)'")
        }
        writeLine(1, selftest())
    }
}
