import ConnTrack
import FlowGen
import Foundation
import Testing

/// Arguments that keep a run tiny when a check under test would let it go on.
let tiny = ["--packets", "2000", "--flows", "100", "--threads", "1", "--no-progress"]

/// Usage errors: exit 2, one line, nothing written.
@Suite(CLI.skipSanitized) struct UsageErrorTests {
    @Test func theOptionDeclarationsAreRead() {
        #expect(Declarations.subcommands.contains("run"), "no subcommands from \(CLI.binary.path): \(Declarations.problems)")
        #expect(Declarations.longOptions("run").contains("--buckets"))
        #expect(RangedOption.all.contains { $0.subcommand == "run" && $0.option == "--buckets" })
    }

    // MARK: Ranges, read from the options' help

    /// Context a ranged option's check needs: a design that takes it, the
    /// mode it belongs to, a subcommand's required arguments.
    static func context(_ o: RangedOption, _ dir: TempDir) -> [String] {
        var args: [String] = []
        if let d = DesignOption.all.first(where: { $0.option == o.option }),
           let design = TableDesigns.all.first(where: { d.applies($0.traits) }) {
            args += ["--design", design.traits.name]
        }
        if o.option == "--check-every" || o.option == "--soak-rss-growth" { args += ["--soak", "1"] }
        if ["--trial-seconds", "--resolution", "--searches"].contains(o.option) { args += ["--find-lossless-rate"] }
        if o.option == "--save-at" { args += ["--save", dir.path("out.snap")] }
        // A workload's options need one, and its runs take no scenario sizes.
        let workloadOnly = ["--time-scale", "--reaper-cpu-budget"].contains(o.option)
        if workloadOnly { args += ["--workload", "syn-flood"] }
        switch o.subcommand {
        case "run": args += ["--json", dir.path("out.json")]
        case "compare": args += ["--json", dir.path("out.json")]
        case "generate": args += ["--pcap", dir.path("out.json")]
        case "sweep": args += ["--out", dir.path("out.json"), "--vary", "buckets=16", "--threads-list", "1"]
        case "diff": args += [Fixtures.report, Fixtures.report]
        case "check-plugin": args += [dir.path("plugin.so")]  // the range is checked before the plugin is loaded
        default: break
        }
        for (k, v) in [("--packets", "2000"), ("--flows", "100")] where o.option != k && !workloadOnly {
            if Declarations.longOptions(o.subcommand).contains(k) { args += [k, v] }
        }
        return args
    }

    /// Just below and just above every declared range: refused with the
    /// option's name and the range it declares.
    @Test(arguments: RangedOption.all)
    func outOfRangeNamesTheRange(_ o: RangedOption) throws {
        let dir = try TempDir()
        for v in [o.low - 1, o.high + 1] {
            let r = try CLI.run([o.subcommand] + Self.context(o, dir) + [o.option, RangedOption.text(v)])
            CLI.expectUsageError(r)
            #expect(r.stderr.contains(String(o.option.dropFirst(2))), "\(r)")
            #expect(r.stderr.contains(o.range), "the error does not name the range \(o.range): \(r)")
            #expect(!dir.exists("out.json"), "\(r)")
        }
    }

    // MARK: Values that are not values

    struct Bad: CustomTestStringConvertible, Sendable {
        var args: [String]
        var mentions: [String] = []
        var testDescription: String { args.joined(separator: " ") }
    }

    static let badValues: [Bad] = [
        Bad(args: ["--buckets", "0"], mentions: ["--buckets"]),
        Bad(args: ["--max-connections", "0"], mentions: ["--max-connections must be at least 1"]),
        Bad(args: ["--threads", "-1"], mentions: ["--threads"]),
        Bad(args: ["--threads", "-3"], mentions: ["--threads"]),
        Bad(args: ["--fraction", "0"], mentions: ["--fraction"]),
        Bad(args: ["--min-interval-ms", "1000", "--max-full-traversal", "1"]),
        Bad(args: ["--reaper-start-delay", "nan"], mentions: ["--reaper-start-delay"]),
        Bad(args: ["--design", "nosuch"], mentions: TableDesigns.names),
        Bad(args: ["--deterministic", "--threads", "2"], mentions: ["--deterministic"]),
        Bad(args: ["--deterministic", "--window-ms", "10"], mentions: ["--window-ms"]),
        Bad(args: ["--save-at", "10"], mentions: ["--save"]),
        Bad(args: ["--soak", "5", "--deterministic"], mentions: ["--soak"]),
        Bad(args: ["--soak", "-1"], mentions: ["--soak"]),
        Bad(args: ["--established-timeout", "-1"], mentions: ["--established-timeout"]),
        Bad(args: ["--packets", "many"], mentions: ["--packets"]),
        Bad(args: ["--ring", "64"], mentions: ["--ring", "--rate"]),
        Bad(args: ["--rate", "100000", "--deterministic"], mentions: ["--rate", "--deterministic"]),
        Bad(args: ["--rate", "100000", "--window-ms", "10"], mentions: ["--window-ms", "--rate"]),
        Bad(args: ["--rate", "1", "--threads", "2"], mentions: ["--rate", "per worker"]),
        Bad(args: ["--rate", "fast"], mentions: ["--rate"]),
        Bad(args: ["--rate", "100000", "--warmup", "10"], mentions: ["--rate", "--warmup"]),
        Bad(args: ["--trial-seconds", "2"], mentions: ["--trial-seconds", "--find-lossless-rate", "--rate"]),
        Bad(args: ["--rate", "1000", "--trial-seconds", "0"], mentions: ["--trial-seconds", "0.1...3600"]),
        Bad(args: ["--find-lossless-rate", "--rate", "1000"], mentions: ["--find-lossless-rate", "--rate"]),
        Bad(args: ["--find-lossless-rate", "--repeats", "2"], mentions: ["--repeats"]),
        Bad(args: ["--find-lossless-rate", "--resolution", "0"], mentions: ["--resolution", "0.1...50"]),
        Bad(args: ["--op", "resize:0@10"], mentions: ["--op", "resize:N", "1...268435456"]),
        Bad(args: ["--op", "resize@10"], mentions: ["--op", "resize:N"]),
        Bad(args: ["--op", "resize:65536@10", "--design", "ovs"], mentions: ["--op resize", "ovs", "cmap", "fast", "linux"]),
        Bad(args: ["--op", "delete:src=10.0.0.0/40@10"], mentions: ["--op", "src=PREFIX"]),
        Bad(args: ["--op", "dump@every:0"], mentions: ["--op"]),
        Bad(args: ["--op", "dump@10", "--deterministic"], mentions: ["--op", "--deterministic"]),
        Bad(args: ["--op-out", "x.txt"], mentions: ["--op-out", "--op dump"]),
        Bad(args: ["--op", "save@10"], mentions: ["--op save", "--save"]),
    ]

    @Test(arguments: badValues)
    func badValueIsOneLine(_ b: Bad) throws {
        let dir = try TempDir()
        let r = try CLI.run(["run"] + b.args + ["--no-progress", "--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        for m in b.mentions { #expect(r.stderr.contains(m), "'\(m)' missing: \(r)") }
        #expect(!dir.exists("bad.json"))
    }

    /// A setting of a reaper policy the run does not use is refused in one
    /// line naming both policies, never silently ignored (`fast` runs
    /// linux2022; the default design, seed).
    @Test(arguments: [
        (["run", "--design", "fast", "--fraction", "16"], ["--fraction", "seed", "linux2022", "--policy seed"]),
        (["run", "--ovs-sweep-ms", "5"], ["--ovs-sweep-ms", "ovs", "uses seed", "--policy ovs"]),
        (["run", "--design", "fast", "--policy", "cilium", "--linux-buckets-per-pass", "64"], ["--linux-buckets-per-pass", "cilium"]),
        (["compare", "--policies", "seed", "--ovs-sweep-ms", "5"], ["--ovs-sweep-ms", "add ovs to --policies"]),
        (["sweep", "--design", "linux", "--cilium-grow-below-pct", "1"], ["--cilium-grow-below-pct", "linux2022"]),
    ])
    func settingOfAnUnusedPolicyIsRefused(_ args: [String], _ mentions: [String]) throws {
        let r = try CLI.run(args + ["--no-progress"])
        CLI.expectUsageError(r)
        for m in mentions { #expect(r.stderr.contains(m), "'\(m)' missing: \(r)") }
    }

    /// The same settings run where their policy is the run's.
    @Test func settingOfTheRunsPolicyRuns() throws {
        let r = try CLI.run(["run", "--design", "ovs", "--ovs-sweep-ms", "500", "--packets", "2000", "--flows", "100", "--no-progress"])
        #expect(r.exited(0), "\(r)")
        let f = try CLI.run(["run", "--design", "fast", "--policy", "seed", "--fraction", "16", "--packets", "2000", "--flows", "100", "--no-progress"])
        #expect(f.exited(0), "\(f)")
    }

    /// More reap fraction than buckets runs as the 2020 code does (every
    /// pass checks no bucket), with one warning line naming both.
    @Test func fractionAboveTheBucketsWarnsAndRuns() throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--fraction", "1000", "--buckets", "16", "--packets", "2000", "--flows", "100",
                             "--deterministic", "--no-progress", "--json", dir.path("r.json")])
        #expect(r.status == 0, "\(r)")
        let warnings = r.stderrLines.filter { $0.contains("--fraction") }
        #expect(warnings.count == 1, "\(r)")
        #expect(warnings.first?.contains("16 buckets") == true, "\(r)")
        #expect(dir.exists("r.json"))
    }

    /// Every option with a fixed set of values, given one outside it,
    /// lists the values it takes.
    @Test(arguments: Declarations.subcommands)
    func unknownChoiceListsTheValues(_ sub: String) throws {
        let choices = (Declarations.arguments[sub] ?? []).filter { $0.isOption && !($0.allValues ?? []).isEmpty }
        for a in choices {
            let name = try #require(a.longName)
            let r = try CLI.run([sub, name, "nosuch"])
            CLI.expectUsageError(r)
            // One form whatever the number of values (ArgumentParser lists up to three inline).
            let allowed = "allowed: " + (a.allValues ?? []).joined(separator: ", ")
            #expect(r.stderr.contains(allowed), "\(name): not '\(allowed)': \(r)")
        }
    }

    // MARK: Options a design does not take

    /// For every design, every option its traits say it does not take is
    /// refused: exit 2, one line naming the option and the design, no file.
    @Test(arguments: DesignOption.refusals)
    func designRefusesWhatItDoesNotTake(_ c: DesignOption.Case) throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--design", c.design, c.option, c.value] + tiny + ["--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains(c.option), "\(r)")
        #expect(r.stderr.contains("design \(c.design)"), "\(r)")
        #expect(!dir.exists("bad.json"))
    }

    /// And what it does take is accepted (the refusal is not blanket).
    @Test(arguments: DesignOption.acceptances)
    func designTakesWhatItDeclares(_ c: DesignOption.Case) throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--design", c.design, c.option, c.value] + tiny + ["--json", dir.path("ok.json")])
        #expect(r.exited(0), "\(r)")
        #expect(dir.exists("ok.json"))
    }

    // MARK: Captures

    /// A replay takes its packets, flows and timestamps from the file: the
    /// scenario's options are refused with it, all of them named.
    @Test func scenarioOptionsAreRefusedWithACapture() throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--pcap", Fixtures.capture, "--scenario", "synflood", "--packets", "5",
                             "--no-progress", "--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        for name in ["--scenario", "--packets", "--pcap"] { #expect(r.stderr.contains(name), "\(r)") }
        #expect(!dir.exists("bad.json"))
    }

    @Test func captureThatIsAFifoIsNotRead() throws {
        let dir = try TempDir()
        #expect(mkfifo(dir.path("fifo"), 0o600) == 0)
        let r = try CLI.run(["run", "--pcap", dir.path("fifo"), "--no-progress", "--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        #expect(!dir.exists("bad.json"))
    }

    @Test(arguments: ["/dev/zero", "/nonexistent/capture.pcap", "/"])
    func captureThatIsNotARegularFileIsRefused(_ path: String) throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--pcap", path, "--no-progress", "--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains(path), "\(r)")
        #expect(!dir.exists("bad.json"))
    }

    @Test func truncatedCaptureNamesTheOffset() throws {
        let dir = try TempDir()
        let whole = try Data(contentsOf: URL(fileURLWithPath: Fixtures.capture))
        try whole.prefix(1000).write(to: URL(fileURLWithPath: dir.path("cut.pcap")))
        let r = try CLI.run(["run", "--pcap", dir.path("cut.pcap"), "--no-progress", "--json", dir.path("bad.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("byte offset"), "\(r)")
        #expect(!dir.exists("bad.json"))
    }

    // MARK: Saved tables

    @Test(arguments: ["cut", "magic"])
    func damagedSavedTableIsRefused(_ damage: String) throws {
        let dir = try TempDir()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.savedTable))
        if damage == "cut" { bytes = bytes.prefix(3000) } else { bytes[0] = UInt8(ascii: "X") }
        try bytes.write(to: URL(fileURLWithPath: dir.path("t.tbl")))
        let r = try CLI.run(["run"] + Fixtures.saveArgs + ["--restore", dir.path("t.tbl"), "--json", dir.path("never.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("byte offset"), "\(r)")
        #expect(!dir.exists("never.json"))
    }

    // MARK: Every scenario

    @Test(arguments: ScenarioKind.allCases)
    func everyScenarioRunsTiny(_ s: ScenarioKind) throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--scenario", s.rawValue] + tiny + ["--json", dir.path("r.json")])
        #expect(r.exited(0), "\(r)")
        let report = try jsonObject(atPath: dir.path("r.json"))
        #expect(canonical(report["packets"]) == canonical(2000), "\(report["packets"] ?? "none")")
    }
}

/// Options that only some designs take, with the trait that says so.
struct DesignOption: Sendable {
    var option: String
    /// A valid value when the design takes the option.
    var value: String
    var applies: @Sendable (DesignTraits) -> Bool

    static let all: [DesignOption] = [
        DesignOption(option: "--hash-seed", value: "1") { $0.hasHashSeed },
        DesignOption(option: "--max-connections", value: "100") { $0.connectionLimit },
        DesignOption(option: "--lookup-batch", value: "8") { $0.batchedLookups },
        DesignOption(option: "--capacity", value: "1000") { $0.sizedByCapacity },
    ]

    struct Case: CustomTestStringConvertible, Sendable {
        var design: String
        var option: String
        var value: String
        var testDescription: String { "\(design) \(option) \(value)" }
    }

    /// Per design: the options above it does not take, every variant it
    /// does not have, every fault it cannot inject.
    static let refusals: [Case] = TableDesigns.all.flatMap { d -> [Case] in
        let t = d.traits
        return all.filter { !$0.applies(t) }.map { Case(design: t.name, option: $0.option, value: $0.value) }
            + Variant.allCases.filter { !t.variants.contains($0) }.map { Case(design: t.name, option: "--variant", value: $0.rawValue) }
            + Fault.allCases.filter { !t.faults.contains($0) }.map { Case(design: t.name, option: "--inject", value: $0.rawValue) }
    }

    /// Per design: the options above it takes, and each of its variants.
    static let acceptances: [Case] = TableDesigns.all.flatMap { d -> [Case] in
        let t = d.traits
        return all.filter { $0.applies(t) }.map { Case(design: t.name, option: $0.option, value: $0.value) }
            + t.variants.map { Case(design: t.name, option: "--variant", value: $0.rawValue) }
    }
}
