import Foundation
import Testing

/// Test-only plugins built from PluginFixtures/bad_plugin.c with the
/// system's C compiler, one per case.
enum PluginFixture {
    static let compiler: String? = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let unavailable = Testing.ConditionTrait.disabled(if: compiler == nil, "no C compiler to build plugin fixtures")

    static let source = CLI.packageRoot.appendingPathComponent("Tests/CLITests/PluginFixtures/bad_plugin.c").path
    static let include = CLI.packageRoot.appendingPathComponent("Sources/CTBDesignABI/include").path

    /// Builds the fixture with `defines` into `dir/name`.
    static func build(_ name: String, defines: [String], in dir: TempDir) throws -> String {
        let out = dir.path(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: compiler!)
        p.arguments = ["-shared", "-fPIC", "-O2", "-std=c11", "-I", include] + defines.map { "-D" + $0 } + [source, "-o", out]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "cc failed for \(name)")
        return out
    }

    /// The example plugin `swift build` put beside the executable, else
    /// built here from its source with cc.
    static let example: String = {
        let beside = CLI.binary.deletingLastPathComponent().appendingPathComponent("libExampleDesign.so").path
        if FileManager.default.fileExists(atPath: beside) { return beside }
        guard let compiler else { return beside }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ctb-cli-example-\(getpid()).so").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: compiler)
        p.arguments = ["-shared", "-fPIC", "-O2", "-std=c11", "-fvisibility=hidden", "-pthread", "-I", include,
                       CLI.packageRoot.appendingPathComponent("Sources/ExampleDesign/example_design.c").path, "-o", out]
        guard (try? p.run()) != nil else { return beside }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? out : beside
    }()
}

@Suite(CLI.skipSanitized) struct PluginTests {
    struct Bad: CustomStringConvertible, Sendable {
        var name: String
        var defines: [String]
        var mentions: [String]
        var description: String { name }
    }

    /// Each bad-plugin case: exit 2, one line naming the plugin and what is
    /// wrong, and no output file written.
    static let bad: [Bad] = [
        Bad(name: "missing", defines: [], mentions: ["no such file"]),
        Bad(name: "not-shared-object", defines: [], mentions: ["not a loadable shared object"]),
        Bad(name: "symbol-absent", defines: ["CASE_NO_SYMBOL"], mentions: ["does not export conntrack_bench_design"]),
        Bad(name: "wrong-version", defines: ["CASE_VERSION=7u"], mentions: ["ABI version 7", "ABI versions 2, 3 and 4"]),
        Bad(name: "version-1", defines: ["CASE_VERSION=1u"],
            mentions: ["ABI version 1", "passes the call site, file and line, to will_acquire: rebuild with the current header"]),
        Bad(name: "null-entry", defines: ["CASE_NULL_ENTRY"], mentions: ["process_batch is NULL"]),
        Bad(name: "name-clash", defines: ["CASE_NAME=\"buckets\""], mentions: ["clashes with the built-in design buckets"]),
        // A knob named after a harness option: sweep would recommend
        // `--threads 1` for it.
        Bad(name: "knob-clash", defines: ["CASE_KNOB_NAME=\"threads\""],
            mentions: ["knob 'threads' is named after the harness option --threads"]),
    ]

    @Test(PluginFixture.unavailable, arguments: bad)
    func aBadPluginIsRefusedInOneLine(_ b: Bad) throws {
        let dir = try TempDir()
        let path: String
        switch b.name {
        case "missing": path = dir.path("absent.so")
        case "not-shared-object":
            path = dir.path("text.so")
            try Data("not an ELF file\n".utf8).write(to: URL(fileURLWithPath: path))
        default: path = try PluginFixture.build(b.name + ".so", defines: b.defines, in: dir)
        }
        for sub in ["run", "compare", "sweep"] {
            var args = [sub, "--design", "plugin:" + path, "--packets", "1000"] + (sub == "run" ? ["--no-progress"] : [])
            args += sub == "sweep" ? ["--out", dir.path("sweep-out")] : ["--json", dir.path("out.json")]
            let o = try CLI.run(args)
            CLI.expectUsageError(o)
            #expect(o.stderr.contains(path), "\(o)")
            for m in b.mentions { #expect(o.stderr.contains(m), "\(o)") }
            #expect(!dir.exists("out.json") && !dir.exists("sweep-out"), "\(o)")
        }
    }

    /// What a plugin returns once its table exists is checked there: a
    /// reaper with no slots, or no per-worker state, ends the run with one
    /// line naming the plugin and the call, exit 2, and no report written.
    @Test(PluginFixture.unavailable, arguments: [
        Bad(name: "zero-slots", defines: ["CASE_ZERO_SLOTS"], mentions: ["sweep_slots returned 0, allowed 1..."]),
        Bad(name: "null-worker", defines: ["CASE_NULL_WORKER"], mentions: ["worker_create returned NULL"]),
    ])
    func aPluginReturningNothingUsableIsRefused(_ b: Bad) throws {
        let dir = try TempDir()
        let path = try PluginFixture.build(b.name + ".so", defines: b.defines, in: dir)
        let o = try CLI.run(["run", "--design", "plugin:" + path, "--packets", "1000", "--no-progress",
                             "--json", dir.path("out.json")])
        CLI.expectUsageError(o)
        #expect(o.stderr.contains(path), "\(o)")
        for m in b.mentions { #expect(o.stderr.contains(m), "\(o)") }
        #expect(!dir.exists("out.json"), "\(o)")
    }

    /// A plugin that crashes inside a call is named, with the entry point,
    /// in one line before the process dies of the signal.
    @Test(PluginFixture.unavailable) func aCrashingPluginIsNamed() throws {
        let dir = try TempDir()
        let path = try PluginFixture.build("crash.so", defines: ["CASE_CRASH", "CASE_NAME=\"crashy\""], in: dir)
        let o = try CLI.run(["run", "--design", "plugin:" + path, "--packets", "1000", "--no-progress"])
        #expect(o.signalled || o.status > 128, "\(o)")
        #expect(o.stderr.contains("conntrack-bench: plugin crashy crashed in process_batch (SIGSEGV)"), "\(o)")
    }

    /// A plugin that does not declare CTB_TRAIT_TRACES is refused for
    /// verdicts and events, in one line, before anything runs.
    @Test(PluginFixture.unavailable) func verdictsAndEventsAreRefusedForAPluginThatDoesNotTrace() throws {
        let dir = try TempDir()
        let nothing = try PluginFixture.build("nothing.so", defines: [], in: dir)
        for option in ["--verdicts", "--events"] {
            let o = try CLI.run(["run", "--design", "plugin:" + nothing, "--packets", "1000",
                                 "--no-progress", option, dir.path("out.txt")])
            #expect(o.exited(2), "\(o)")
            #expect(o.stderr.contains("not available for design nothing: it does not declare CTB_TRAIT_TRACES"), "\(o)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.txt")))
        }
    }

    /// The example plugin's verdicts and events are exactly `fixed`'s,
    /// byte for byte: on real loopback connections (Linux's timeouts), on
    /// a generated capture, on NAT, at a connection limit (early
    /// drop), with the reaper from the start (destroys by the reaper and
    /// inline).
    @Test(arguments: [["--pcap", Fixtures.loopback, "--timeouts", "linux"],
                      ["--pcap", Fixtures.capture],
                      ["--scenario", "nat", "--packets", "20000", "--flows", "1500"],
                      ["--scenario", "synflood", "--packets", "20000", "--flows", "1500", "--max-connections", "400"],
                      ["--scenario", "udp", "--packets", "10000", "--flows", "800", "--timeouts", "linux"]])
    func theExamplesVerdictsAndEventsAreFixeds(_ source: [String]) throws {
        let dir = try TempDir()
        var files: [String] = []
        for (name, design) in [("fixed", ["--variant", "fixed"]), ("plugin", ["--design", "plugin:" + PluginFixture.example])] {
            let o = try CLI.run(["run", "--deterministic", "--hash-seed", "7", "--reaper-start-delay", "0", "--no-progress",
                                 "--verdicts", dir.path(name + ".verdicts"), "--events", dir.path(name + ".events")] + design + source)
            #expect(o.exited(0), "\(o)")
            files.append(name)
        }
        for ext in ["verdicts", "events"] {
            let a = try String(contentsOfFile: dir.path("fixed." + ext), encoding: .utf8)
            let b = try String(contentsOfFile: dir.path("plugin." + ext), encoding: .utf8)
            #expect(!a.isEmpty && a == b, "\(ext) differ: \(a.count) against \(b.count) bytes")
        }
        let events = try String(contentsOfFile: dir.path("plugin.events"), encoding: .utf8)
        // The loopback connections end before their timeouts: nothing is destroyed.
        #expect(events.contains("[NEW]") && (events.contains("[DESTROY]") || source.contains(Fixtures.loopback)), "\(events.prefix(300))")
    }

    /// A plugin that says it created connections it does not keep is caught
    /// by the end-of-run cross-check: exit 5, the count named.
    @Test(PluginFixture.unavailable) func aPluginThatLosesConnectionsIsCaught() throws {
        let dir = try TempDir()
        let path = try PluginFixture.build("lossy.so", defines: ["CASE_LOSSY", "CASE_NAME=\"lossy\""], in: dir)
        let o = try CLI.run(["run", "--design", "plugin:" + path, "--packets", "2000", "--deterministic", "--no-progress"])
        #expect(o.exited(5), "\(o)")
        #expect(o.stdout.contains("plugin lossy exports 0 connections but created minus removed is"), "\(o)")
        #expect(o.stdout.contains("connections lost"), "\(o)")
    }

    /// The do-nothing plugin runs beside the built-in null design in compare.
    @Test(PluginFixture.unavailable) func compareAddsPluginsToTheRegistry() throws {
        let dir = try TempDir()
        let nothing = try PluginFixture.build("nothing.so", defines: [], in: dir)
        let o = try CLI.run(["compare", "--design", "plugin:" + nothing, "--design", "plugin:" + PluginFixture.example,
                             "--packets", "4000", "--flows", "500", "--threads", "1"])
        #expect(o.exited(0), "\(o)")
        for label in ["seed2020", "fixed", "null", "nothing", "example-buckets"] { #expect(o.stdout.contains(label), "\(o)") }
    }

    /// A design named twice is refused before anything runs (it used to run
    /// every design, then die on the two reports of one name).
    @Test(PluginFixture.unavailable) func compareRefusesADesignNamedTwice() throws {
        let dir = try TempDir()
        let spec = "plugin:" + PluginFixture.example
        let o = try CLI.run(["compare", "--design", spec, "--design", spec, "--packets", "4000", "--flows", "500",
                             "--threads", "1", "--no-progress", "--json", dir.path("out.json")])
        CLI.expectUsageError(o)
        #expect(o.stderr.contains("--design names \(spec) twice"), "\(o)")
        #expect(!dir.exists("out.json"), "\(o)")
    }

    /// A plugin with fewer slots than the seed schedule's fraction gets the
    /// warning a built-in table gets: every pass checks nothing. Its slots
    /// are known only once its table exists, so the report says it (it was
    /// silent: 1,270 passes of max_slots 0).
    @Test(PluginFixture.unavailable) func aPluginWhosePassesCheckNothingIsWarned() throws {
        let dir = try TempDir()
        let lossy = try PluginFixture.build("lossy.so", defines: ["CASE_LOSSY"], in: dir)
        let o = try CLI.run(["run", "--design", "plugin:" + lossy, "--policy", "seed", "--packets", "4000", "--flows", "500",
                             "--threads", "1", "--no-progress", "--json", dir.path("r.json")])
        let warnings = try #require(try jsonObject(atPath: dir.path("r.json"))["warnings"] as? [String], "\(o)")
        #expect(warnings.contains { $0.hasPrefix("--fraction 128 exceeds the 1 ") && $0.contains("checks no") }, "\(warnings)")
        #expect(o.stdout.contains("WARNING: --fraction 128 exceeds the 1 "), "\(o)")
        // Enough slots: no warning.
        let fine = try CLI.run(["run", "--design", "plugin:" + lossy, "--policy", "seed", "--fraction", "1", "--packets", "4000",
                                "--flows", "500", "--threads", "1", "--no-progress", "--json", dir.path("f.json")])
        let none = try #require(try jsonObject(atPath: dir.path("f.json"))["warnings"] as? [String], "\(fine)")
        #expect(!none.contains { $0.contains("exceeds the") }, "\(none)")
    }

    /// Options a plugin cannot honour are refused, not ignored: --buckets
    /// for a plugin not sized by buckets, and a restore of another design's
    /// table without --rehash (it used to run the file's design quietly).
    @Test(PluginFixture.unavailable) func optionsAPluginCannotHonourAreRefused() throws {
        let dir = try TempDir()
        let nothing = try PluginFixture.build("nothing.so", defines: [], in: dir)
        let b = try CLI.run(["run", "--design", "plugin:" + nothing, "--buckets", "4096", "--packets", "2000", "--no-progress",
                             "--json", dir.path("b.json")])
        CLI.expectUsageError(b)
        #expect(b.stderr.contains("--buckets does not apply to design nothing"), "\(b)")
        #expect(!dir.exists("b.json"))
        let spec = "plugin:" + PluginFixture.example
        let r = try CLI.run(["run", "--design", spec, "--restore", Fixtures.savedTable, "--no-progress", "--json", dir.path("r.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("add --rehash"), "\(r)")
        #expect(!dir.exists("r.json"))
        let rehashed = try CLI.run(["run", "--design", spec, "--restore", Fixtures.savedTable, "--rehash", "--packets", "2000",
                                    "--flows", "200", "--no-progress", "--json", dir.path("ok.json")])
        #expect(rehashed.exited(0), "\(rehashed)")
        #expect(canonical(try jsonObject(atPath: dir.path("ok.json"))["design"]) == canonical("example-buckets"))
    }

    /// `ctb_config.expected_connections` is the connections the run expects
    /// (it was always 0): here the scenario's 500 concurrent flows.
    @Test(PluginFixture.unavailable) func aPluginIsToldTheConnectionsToExpect() throws {
        let dir = try TempDir()
        let plugin = try PluginFixture.build("expects.so", defines: ["CASE_EXPECTED_CONNECTIONS=500"], in: dir)
        let ok = try CLI.run(["run", "--design", "plugin:" + plugin, "--flows", "500", "--packets", "4000", "--no-progress"])
        #expect(ok.exited(0), "\(ok)")
        let other = try CLI.run(["run", "--design", "plugin:" + plugin, "--flows", "700", "--packets", "4000", "--no-progress"])
        #expect(!other.exited(0) && (other.stdout + other.stderr).contains("expected_connections 700, wanted 500"), "\(other)")
    }

    /// check-plugin passes the example (every check its traits claim), fails
    /// a plugin that loses connections (exit 1, the failing rows named), and
    /// gives a plugin the loader refuses the loader's line (exit 2).
    @Test(PluginFixture.unavailable) func checkPluginJudgesPlugins() throws {
        let dir = try TempDir()
        let good = try CLI.run(["check-plugin", PluginFixture.example, "--packets", "2000"])
        #expect(good.exited(0), "\(good)")
        #expect(good.stdout.contains("0 failed") && !good.stdout.contains("FAIL"), "\(good)")
        for check in ["loads and runs", "two deterministic runs are equal", "invariants after NAT", "rehash to fixed",
                      "verdicts and events", "a full sweep removes every expired connection", "dump, delete and flush while running",
                      "resize while running"] {
            #expect(good.stdout.split(separator: "\n").contains { $0.contains("PASS ") && $0.contains(check) }, "\(check): \(good)")
        }
        let lossy = try PluginFixture.build("lossy.so", defines: ["CASE_LOSSY"], in: dir)
        let bad = try CLI.run(["check-plugin", lossy, "--packets", "2000"])
        #expect(bad.exited(1), "\(bad)")
        #expect(bad.stdout.split(separator: "\n").contains { $0.contains("FAIL") && $0.contains("invariants after mix") }, "\(bad)")
        let refused = try CLI.run(["check-plugin", dir.path("missing.so")])
        CLI.expectUsageError(refused)
        #expect(refused.stderr.contains("no such file"), "\(refused)")
    }

    /// The example plugin's descending lock order is caught by the rank
    /// checker through the hooks: exit 3.
    @Test func theRankCheckerSeesTheExamplesDescendingOrder() throws {
        let o = try CLI.run(["run", "--design", "plugin:" + PluginFixture.example, "--packets", "20000", "--flows", "2000",
                             "--check-lock-order", "--no-progress"],
                            environment: ["CTB_EXAMPLE_FAULT": "descending-lock-order"])
        #expect(o.exited(3), "\(o)")
        #expect(o.stderr.contains("lock-order violation"), "\(o)")
        // Both locks name the line that asked for them (it said "plugin:2").
        let line = o.stderr.split(separator: "\n").first { $0.contains("lock-order violation") }.map(String.init) ?? ""
        #expect(line.firstMatch(of: /acquiring bucket\[\d+\] at \S*example_design\.c:\d+ while holding bucket\[\d+\] \(taken at \S*example_design\.c:\d+\)/) != nil,
                "\(line)")
    }

    /// A knob a plugin declares is a sweep axis, range-checked.
    @Test(PluginFixture.unavailable) func sweepVariesAPluginsOwnKnob() throws {
        let dir = try TempDir()
        let nothing = try PluginFixture.build("nothing.so", defines: [], in: dir)
        let o = try CLI.run(["sweep", "--design", "plugin:" + nothing, "--packets", "2000", "--vary", "rounds=0,8",
                             "--threads-list", "1", "--out", dir.path("s")])
        #expect(o.exited(0), "\(o)")
        let csv = try String(contentsOfFile: dir.path("s/sweep.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").first?.contains("rounds") == true, "\(csv.prefix(300))")
        // What it recommends is a command run accepts: the knob as --set NAME=VALUE
        // (it printed --rounds N, which run refused). A point flagged for a busy
        // machine leaves no recommendation; the setting itself is run below anyway.
        if let line = o.stdout.split(separator: "\n").first(where: { $0.hasPrefix("recommended design settings: ") }) {
            let args = line.dropFirst("recommended design settings: ".count).split(separator: " (").first.map(String.init) ?? ""
            #expect(args.hasPrefix("--set rounds="), "\(line)")
            let r = try CLI.run(["run", "--design", "plugin:" + nothing, "--packets", "2000", "--no-progress"]
                                + args.split(separator: " ").map(String.init))
            #expect(r.exited(0), "\(r)")
        } else {
            #expect(o.stdout.contains("no unflagged point"), "\(o)")
        }
        let set = try CLI.run(["run", "--design", "plugin:" + nothing, "--set", "rounds=8", "--packets", "2000", "--no-progress"])
        #expect(set.exited(0), "\(set)")
        for (args, says) in [(["--set", "rounds=99"], "--set rounds must be in 0...64"), (["--set", "shards=4"], "allowed: rounds"),
                             (["--set", "rounds"], "NAME=VALUE")] {
            let r = try CLI.run(["run", "--design", "plugin:" + nothing, "--packets", "2000", "--no-progress"] + args)
            CLI.expectUsageError(r)
            #expect(r.stderr.contains(says), "\(r)")
        }
        let builtIn = try CLI.run(["run", "--set", "rounds=1", "--packets", "2000", "--no-progress"])
        CLI.expectUsageError(builtIn)
        #expect(builtIn.stderr.contains("none declares any"), "\(builtIn)")
        let bad = try CLI.run(["sweep", "--design", "plugin:" + nothing, "--packets", "2000", "--vary", "rounds=0,99",
                               "--threads-list", "1", "--out", dir.path("t")])
        CLI.expectUsageError(bad)
        #expect(bad.stderr.contains("rounds") && bad.stderr.contains("64"), "\(bad)")
        #expect(!dir.exists("t"))
    }

    /// Save, dump and restore work on a plugin's table: the records it
    /// exports are the harness's connection records.
    @Test func aPluginsTableIsSavedDumpedAndRestored() throws {
        let dir = try TempDir()
        let design = ["--design", "plugin:" + PluginFixture.example]
        let base = ["run", "--deterministic", "--packets", "20000", "--flows", "2000", "--hash-seed", "7", "--no-progress"]
        let save = try CLI.run(base + design + ["--save", dir.path("t.snap"), "--json", dir.path("a.json")])
        #expect(save.exited(0), "\(save)")
        let live = try #require(try jsonObject(atPath: dir.path("a.json"))["live"] as? Int)
        let dump = try CLI.run(["dump", dir.path("t.snap")])
        #expect(dump.exited(0) && dump.stdout.split(separator: "\n").count == live, "\(dump)")
        let restore = try CLI.run(base + design + ["--restore", dir.path("t.snap")])
        #expect(restore.exited(0) && restore.stdout.contains("restored ") && restore.stdout.contains(" connections from a saved table"), "\(restore)")
        let without = try CLI.run(base + ["--restore", dir.path("t.snap")])
        CLI.expectUsageError(without)
        #expect(without.stderr.contains("example-buckets"), "\(without)")
    }

    /// Sweep varies a plugin's declared settings (here --buckets).
    @Test func sweepTakesAPlugin() throws {
        let dir = try TempDir()
        let o = try CLI.run(["sweep", "--design", "plugin:" + PluginFixture.example, "--packets", "4000", "--flows", "500",
                             "--vary", "buckets=256,1024", "--threads-list", "1", "--out", dir.path("s")])
        #expect(o.exited(0), "\(o)")
        #expect(o.stdout.contains("example-buckets"), "\(o)")
    }
}
