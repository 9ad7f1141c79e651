import ArgumentParser
import ConnTrack
import Foundation

struct Root: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conntrack-bench",
        abstract: "Benchmark and stress harness for gVisor's lock-ordered, bucketed conntrack table.",
        subcommands: [Run.self, Generate.self, Compare.self, Sweep.self, Diff.self],
        defaultSubcommand: Run.self)
}

// Usage errors exit with 2 and one line; --help exits 0.
do {
    var command = try Root.parseAsRoot()
    try command.run()
} catch {
    let code = Root.exitCode(for: error)
    if code == .success {
        print(Root.fullMessage(for: error))
        exit(0)
    }
    if let e = error as? ArgumentParser.ExitCode { exit(e.rawValue) }
    if error is ValidationError || code == .validationFailure {
        let msg = Root.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        fail(msg + " (see --help)")
    }
    fail("\(error)", code: 1)
}
