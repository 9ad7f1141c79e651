import ArgumentParser
import Foundation
import Harness
import Sync

extension Run {
    /// `run --find-lossless-rate`: the search's trials, its text and JSON.
    /// Each trial (and the full-speed run) is a child `run` of this
    /// executable: a trial in the same process would start on the heap the
    /// one before it freed, and glibc's malloc then stalls about 10 ms
    /// inside one packet's allocation (measured: `run --rate --repeats 2`
    /// shows it from the second repeat on), a pause of the harness's making.
    func runLosslessSearch(_ settings: LosslessSearch.Settings) throws {
        var cfg = try makeConfig()
        // --restore: every trial (and the full-speed run) starts from that
        // table, each in its child; read here too, so that a bad file is
        // refused before any child runs.
        _ = try snapshot.apply(&cfg, repeats: 1, designGiven: !table.designs.isEmpty)
        AllocatorSwitch.ensure(allocator)
        drawDefaultSeeds(&cfg)
        StopSignal.install()
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        let textFD: Int32 = jsonOut?.isStdout == true ? 2 : 1
        _ = openedCapture(&cfg)
        for w in cfg.configWarnings { writeLine(2, "warning: " + w) }
        let dir = ScratchDirectory(prefix: "ctb-lossless")
        defer { dir.remove() }
        var n = 0
        let report = try LosslessSearch.run(cfg, settings, ring: ring ?? Pacing.defaultRing, trial: { c in
            n += 1
            return try Self.trial(Self.childArguments(CommandLine.arguments, c), json: try dir.path(n))
        }, progress: { line in
            if !noProgress { writeLine(2, "  " + line) }
        })
        try OutputFile.writeAll(textFD, Array(report.text.utf8), what: "the report")
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try jsonOut.write(Array(try enc.encode(report)) + [0x0a])
        }
        let outcome = report.preliminary.outcome
        if outcome != .ok { throw ArgumentParser.ExitCode(outcome.exitCode) }
    }

    /// A child run of `c`: the command line's arguments with what the
    /// parent decides per child (pacing, the stream's length) given anew.
    static func childArguments(_ argv: [String], _ c: RunConfig) -> [String] {
        var args = trialArguments(Array(argv.dropFirst()), hashSeed: c.table.hashSeed)
        if case .scenario = c.source { args += ["--packets", String(c.scenario.packets)] }
        if let p = c.pacing {
            args += ["--rate", String(p.rate), "--ring", String(p.ring)] + (p.seconds.map { ["--trial-seconds", String($0)] } ?? [])
        }
        return args
    }

    /// The command line's `run` arguments without what the parent decides
    /// per child (the search's or the repeats' options, the outputs, the
    /// pacing, the stream's length), with the hash seed this invocation
    /// drew, so every child hashes alike.
    static func trialArguments(_ argv: [String], hashSeed: UInt32?) -> [String] {
        let dropWithValue: Set = ["--trial-seconds", "--resolution", "--searches", "--json", "--packets", "--hash-seed", "--csv", "--ring",
                                  "--rate", "--repeats", "--op-plots", "--plots"]
        let dropFlags: Set = ["--find-lossless-rate", "--no-progress"]
        var out: [String] = []
        var i = argv.first == "run" ? 1 : 0
        while i < argv.count {
            let a = argv[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if dropFlags.contains(a) { i += 1; continue }
            if dropWithValue.contains(name) { i += a.contains("=") ? 1 : 2; continue }
            out.append(a)
            i += 1
        }
        return ["run"] + out + (hashSeed.map { ["--hash-seed", String($0)] } ?? []) + ["--no-progress"]
    }

    /// A folder for the children's reports, removed at the end.
    struct ScratchDirectory {
        let root: String

        init(prefix: String) {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())").path
        }

        /// The report path of child `n`; the folder is made on first use.
        func path(_ n: Int) throws -> String {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            return root + "/child-\(n).json"
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// One child run; its report, or the search ends with the child's
    /// error (a usage error is exit 2 here too).
    static func trial(_ args: [String], json: String) throws -> RunReport {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CheckPlugin.executable)
        p.arguments = args + ["--json", json]
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        if let sig = StopSignal.requested { throw ArgumentParser.ExitCode(128 + sig) }
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        guard let data = FileManager.default.contents(atPath: json),
              let report = try? JSONDecoder().decode(RunReport.self, from: data) else {
            writeLine(2, "conntrack-bench: a trial of the search failed (exit \(status)): conntrack-bench " + args.joined(separator: " "))
            throw ArgumentParser.ExitCode(status == 0 ? 1 : status)
        }
        return report
    }
}
