import ArgumentParser
import ConnTrack
import Foundation

/// `conntrack-bench check-plugin PATH`: what a plugin's author runs before
/// publishing numbers. Each check is a run of this executable on the plugin
/// (a crash or a hang ends that check, not the kit), judged by its exit code
/// and its files; the table says which passed, failed or do not apply.
struct CheckPlugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-plugin",
        abstract: "Check a plugin before publishing its numbers: loading, determinism, invariants under several loads, two workers with the lock-order check and the watchdog, save/restore/dump and rehash with fixed, the reaper's contract, verdicts and events. Prints a pass/fail table; exit 1 on any failure.",
        discussion: "With --tsan PATH and --tsan-harness BIN, the concurrent check runs again with the plugin built with -fsanitize=thread (clang, as swift build --sanitize=thread builds C) under a conntrack-bench built with swift build --sanitize=thread; any ThreadSanitizer report fails it.")

    @Argument(help: "The plugin's shared object.")
    var path: String
    @Option(help: "Packets per run (1000...10000000; default 50000).")
    var packets: Int = 50_000
    @Option(help: "The plugin built with -fsanitize=thread, for the concurrent check under ThreadSanitizer.")
    var tsan: String?
    @Option(help: "A conntrack-bench built with swift build --sanitize=thread, to run --tsan's check.")
    var tsanHarness: String?

    enum Result: String { case pass = "PASS", fail = "FAIL", notApplicable = "n/a" }

    struct Row {
        var check: String
        var result: Result
        var detail: String
    }

    mutating func run() throws {
        guard (1000...10_000_000).contains(packets) else { throw ValidationError("--packets must be in 1000...10000000, got \(packets)") }
        guard (tsan == nil) == (tsanHarness == nil) else { throw ValidationError("--tsan and --tsan-harness go together") }
        // The runs happen in a scratch directory: paths from here, absolute.
        func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
        let spec = "plugin:" + absolute(path)
        // A plugin the loader refuses gets the loader's one line, exit 2.
        if let e = TableDesigns.loadError(spec) { throw ValidationError(e) }
        guard let design = TableDesigns.named(spec) else { throw ValidationError("--design \(spec): not loaded") }
        let t = design.traits
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctb-check-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let kit = Kit(binary: Self.executable, dir: dir, packets: packets)
        print("check-plugin: \(t.name) (\(path)): \(t.summary)")
        var rows: [Row] = []
        rows += Self.checks(kit, spec: spec, traits: t)
        if let tsan, let tsanHarness {
            rows.append(Self.tsanCheck(Kit(binary: absolute(tsanHarness), dir: dir, packets: min(packets, 50_000)),
                                       spec: "plugin:" + absolute(tsan), traits: t))
        } else {
            rows.append(Row(check: "two workers under ThreadSanitizer", result: .notApplicable,
                            detail: "give --tsan PLUGIN --tsan-harness BIN (docs/plugins.md#checking-a-plugin)"))
        }
        let width = rows.map(\.check.count).max() ?? 0
        for r in rows {
            print("  " + r.result.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
                  + r.check.padding(toLength: width + 2, withPad: " ", startingAt: 0) + r.detail)
        }
        let failed = rows.filter { $0.result == .fail }.count
        let passed = rows.filter { $0.result == .pass }.count
        print("check-plugin: \(passed) passed, \(failed) failed, \(rows.count - passed - failed) not applicable")
        if failed > 0 { throw ExitCode(1) }
    }

    /// This executable, to run the checks as child processes.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The runs and what each must show.
    static func checks(_ k: Kit, spec: String, traits t: DesignTraits) -> [Row] {
        var rows: [Row] = []
        let d = ["--design", spec]
        let small = ["--packets", "\(k.packets)", "--flows", "\(max(100, k.packets / 10))"]
        let det = ["--deterministic", "--hash-seed", "7"]

        // Loading: the descriptor passed the loader; one short run.
        let load = k.run(["run"] + d + det + ["--packets", "2000", "--flows", "200"])
        rows.append(Row(check: "loads and runs", result: load.status == 0 ? .pass : .fail, detail: load.summary))

        // Determinism: two deterministic runs are the same run.
        let a = k.run(["run"] + d + det + small + ["--json", k.path("a.json")])
        let b = k.run(["run"] + d + det + small + ["--json", k.path("b.json")])
        let diff = a.status == 0 && b.status == 0 ? k.run(["diff", "--exact", k.path("a.json"), k.path("b.json")]) : nil
        rows.append(Row(check: "two deterministic runs are equal", result: diff?.status == 0 ? .pass : .fail,
                        detail: diff.map { $0.lastLine } ?? (a.status != 0 ? a.summary : b.summary)))

        // Invariants and the lost/duplicate cross-check under several loads.
        let loads: [(String, [String])] = [
            ("mix", ["--scenario", "mix"]),
            ("NAT", ["--scenario", "nat", "--nat-fraction", "1"]),
            ("long gaps", ["--scenario", "mix", "--duration", "20000", "--reaper-start-delay", "0"]),
        ]
        for (name, args) in loads {
            let r = k.run(["run"] + d + det + small + args + ["--json", k.path("\(name).json")])
            rows.append(Row(check: "invariants after \(name)", result: r.status == 0 ? .pass : .fail, detail: r.summary))
        }
        if t.connectionLimit {
            let r = k.run(["run"] + d + det + small + ["--scenario", "synflood", "--max-connections", "\(max(50, k.packets / 100))"])
            rows.append(Row(check: "invariants after a SYN flood at the limit", result: r.status == 0 ? .pass : .fail, detail: r.summary))
        } else {
            rows.append(Row(check: "invariants after a SYN flood at the limit", result: .notApplicable,
                            detail: "no CTB_TRAIT_CONNECTION_LIMIT"))
        }

        // Two workers on a shared population, every lock checked, watchdog on.
        let two = k.run(["run"] + d + small + ["--threads", "2", "--scenario", "nat", "--nat-fraction", "1", "--shared",
                                               "--reaper-start-delay", "0", "--check-lock-order", "--watchdog", "60"])
        rows.append(Row(check: "two workers, lock order and watchdog", result: two.status == 0 ? .pass : .fail,
                        detail: two.summary + (t.locksObserved ? "" : " (its locks are unobserved: no CTB_TRAIT_REPORTS_LOCKS)")))

        // Operations while two workers run (ABI 3): a dump, a delete and a
        // flush on their own thread; the run's invariant check and the
        // lost/duplicate cross-check judge what they left.
        if t.operatesWhileRunning {
            let ops = k.run(["run"] + d + small + ["--threads", "2", "--check-lock-order", "--op", "dump@100", "--op",
                                                   "delete:sport=1-30000@200", "--op", "flush@400"])
            rows.append(Row(check: "dump, delete and flush while running", result: ops.status == 0 ? .pass : .fail, detail: ops.summary))
        } else {
            rows.append(Row(check: "dump, delete and flush while running", result: .notApplicable,
                            detail: "no dump_running and remove_running (ABI 3)"))
        }

        // A resize while two workers run (ABI 4): grown, then shrunk; the
        // same checks judge what it left.
        if t.resizesWhileRunning {
            let rs = k.run(["run"] + d + small + ["--threads", "2", "--check-lock-order", "--op", "resize:65536@100", "--op",
                                                  "resize:1024@300"])
            rows.append(Row(check: "resize while running", result: rs.status == 0 ? .pass : .fail, detail: rs.summary))
        } else {
            rows.append(Row(check: "resize while running", result: .notApplicable, detail: "no resize_running (ABI 4)"))
        }

        // Save, restore, dump; rehash both ways with fixed.
        let save = k.run(["run"] + d + det + small + ["--scenario", "nat", "--save", k.path("p.snap"), "--json", k.path("p.json")])
        var ok = save.status == 0
        var detail = save.summary
        if ok {
            let dump = k.run(["dump", k.path("p.snap"), "--format", "csv"])
            let live = (k.json("p.json")?["live"] as? Int) ?? -1
            let rows = dump.stdout.split(separator: "\n").count - 1
            let restored = k.run(["run"] + d + det + ["--restore", k.path("p.snap"), "--packets", "2000", "--flows", "200"])
            ok = dump.status == 0 && rows == live && restored.status == 0
            detail = dump.status != 0 ? dump.summary : rows != live ? "dump lists \(rows) connections, the run ended with \(live)"
                : restored.summary
        }
        rows.append(Row(check: "save, dump and restore", result: ok ? .pass : .fail, detail: detail))
        let fixed = k.run(["run", "--variant", "fixed"] + det + small + ["--scenario", "nat", "--save", k.path("f.snap")])
        let from = fixed.status == 0 ? k.run(["run"] + d + det + ["--restore", k.path("f.snap"), "--rehash", "--packets", "2000", "--flows", "200"]) : fixed
        rows.append(Row(check: "rehash from fixed", result: from.status == 0 ? .pass : .fail, detail: from.summary))
        let to = save.status == 0 ? k.run(["run", "--variant", "fixed"] + det + ["--restore", k.path("p.snap"), "--rehash", "--packets", "2000", "--flows", "200"]) : save
        rows.append(Row(check: "rehash to fixed", result: to.status == 0 ? .pass : .fail, detail: to.summary))

        // The reaper's contract: a complete sweep leaves nothing expired.
        if t.pluginCompleteSweep {
            let left = (k.json("long gaps.json")?["expiredSurvivingFullSweep"] as? Int)
            rows.append(Row(check: "a full sweep removes every expired connection", result: left == 0 ? .pass : .fail,
                            detail: left.map { "\($0) expired connections survived a full sweep" } ?? "no report"))
        } else {
            rows.append(Row(check: "a full sweep removes every expired connection", result: .notApplicable,
                            detail: "no CTB_TRAIT_COMPLETE_SWEEP"))
        }

        // Verdicts and events: one verdict per packet, events present.
        if t.traces {
            let r = k.run(["run"] + d + det + small + ["--reaper-start-delay", "0", "--verdicts", k.path("v.txt"), "--events", k.path("e.txt")])
            let verdicts = (try? String(contentsOfFile: k.path("v.txt"), encoding: .utf8))?.split(separator: "\n").count ?? 0
            let events = (try? String(contentsOfFile: k.path("e.txt"), encoding: .utf8)) ?? ""
            let good = r.status == 0 && verdicts == k.packets && events.contains("[NEW]") && events.contains("[DESTROY]")
            rows.append(Row(check: "verdicts and events", result: good ? .pass : .fail,
                            detail: r.status != 0 ? r.summary : "\(verdicts) verdicts for \(k.packets) packets; events \(events.contains("[NEW]") ? "with" : "without") [NEW], \(events.contains("[DESTROY]") ? "with" : "without") [DESTROY]"))
        } else {
            rows.append(Row(check: "verdicts and events", result: .notApplicable, detail: "no CTB_TRAIT_TRACES"))
        }
        return rows
    }

    /// The concurrent check again under ThreadSanitizer.
    static func tsanCheck(_ k: Kit, spec: String, traits t: DesignTraits) -> Row {
        let r = k.run(["run", "--design", spec, "--packets", "\(k.packets)", "--flows", "400", "--threads", "2", "--scenario", "nat",
                       "--nat-fraction", "1", "--shared", "--reaper-start-delay", "0", "--watchdog", "120"],
                      environment: ["TSAN_OPTIONS": "halt_on_error=0 exitcode=66"])
        let reports = r.stderr.components(separatedBy: "WARNING: ThreadSanitizer").count - 1
        return Row(check: "two workers under ThreadSanitizer", result: r.status == 0 && reports == 0 ? .pass : .fail,
                   detail: reports > 0 ? "\(reports) ThreadSanitizer report(s)" : r.summary)
    }

    /// Runs of this executable in one scratch directory.
    struct Kit {
        var binary: String
        var dir: String
        var packets: Int

        func path(_ name: String) -> String { dir + "/" + name }

        struct Outcome {
            var status: Int32
            var stdout: String
            var stderr: String
            var lastLine: String {
                (stdout + stderr).split(separator: "\n").last.map(String.init) ?? ""
            }
            /// "exit 0", or the exit and the first error line.
            var summary: String {
                if status == 0 { return "exit 0" }
                let line = stderr.split(separator: "\n").first { $0.contains("error") || $0.contains("violation") || $0.contains("crashed") }
                    ?? stdout.split(separator: "\n").first { $0.contains("VIOLATED") || $0.contains("violation") }
                return "exit \(status)" + (line.map { ": " + $0.trimmingCharacters(in: .whitespaces) } ?? "")
            }
        }

        func run(_ args: [String], environment: [String: String] = [:]) -> Outcome {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args + (args.first == "run" ? ["--no-progress"] : [])
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            let out = path("stdout"), err = path("stderr")
            FileManager.default.createFile(atPath: out, contents: nil)
            FileManager.default.createFile(atPath: err, contents: nil)
            guard let o = FileHandle(forWritingAtPath: out), let e = FileHandle(forWritingAtPath: err) else {
                return Outcome(status: -1, stdout: "", stderr: "cannot write to \(dir)")
            }
            p.standardOutput = o
            p.standardError = e
            p.standardInput = FileHandle.nullDevice
            do { try p.run() } catch { return Outcome(status: -1, stdout: "", stderr: "cannot run \(binary): \(error)") }
            p.waitUntilExit()
            try? o.close(); try? e.close()
            let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
            return Outcome(status: status, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                           stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }

        func json(_ name: String) -> [String: Any]? {
            guard let d = FileManager.default.contents(atPath: path(name)) else { return nil }
            return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
        }
    }
}
