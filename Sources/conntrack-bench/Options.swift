import ArgumentParser
import ConnTrack
import FlowGen
import Harness
import Sync

extension Variant: ExpressibleByArgument {}
extension Fault: ExpressibleByArgument {}
extension ScenarioKind: ExpressibleByArgument {}
extension ClockMode: ExpressibleByArgument {}
extension Timeouts.Mode: ExpressibleByArgument {}

enum PolicyName: String, ExpressibleByArgument, CaseIterable { case seed, linux2022, cilium, ovs, off }

struct TableOptions: ParsableArguments {
    @Option(name: .customLong("design"),
            help: ArgumentHelp("Table design: \(TableDesigns.names.joined(separator: ", ")). Or plugin:PATH, a design loaded from a shared object (docs/plugins.md); compare takes it repeatedly and adds each plugin to the registry's designs (default: buckets).",
                               discussion: TableDesigns.all.map { "\($0.traits.name): \($0.traits.summary)" }.joined(separator: "\n")))
    var designs: [String] = []
    /// The design a run uses (the last --design; buckets by default).
    var design: String { designs.last ?? BucketTable.traits.name }
    @Option(help: "Behaviour of a design with variants (buckets: seed2020, the 2020 commit with its defects, or fixed; default: the design's own, seed2020).")
    var variant: Variant?
    @Option(help: "Number of hash buckets (1...268435456; default 16384; design linux: the kernel's default size, or the flows when more).")
    var buckets: Int?
    @Option(help: "Hash seed, decimal (0...4294967295; default: random, printed, as in the seed; refused by designs that do not hash with a seed).")
    var hashSeed: UInt32?
    @Option(help: "Timeout table: seed (5 days established, 120 s otherwise), linux (per state) or ovs (Open vSwitch's defaults, per state).")
    var timeouts: Timeouts.Mode = .seed
    @Option(help: "Timeout of established TCP connections, seconds (0...1000000000; default: 432000; 86400 with --timeouts ovs).")
    var establishedTimeout: Double?
    @Option(help: "Timeout of any other TCP state in the seed table, seconds (0...1000000000; default: 120).")
    var otherTimeout: Double?
    @Option(help: "Timeout of unreplied UDP flows, seconds (0...1000000000; default: 30; 60 with --timeouts ovs).")
    var udpTimeout: Double?
    @Option(help: "Timeout of replied UDP flows, seconds (0...1000000000; default: 120; 30 with --timeouts ovs).")
    var udpStreamTimeout: Double?
    @Option(help: "Limit on live connections with Linux-style early drop (1 or more; default: none; design linux: the bucket count; ovs: 3000000, and refused without early drop).")
    var maxConnections: Int?
    @Option(help: "Design fast: connections to size its index for; design linux without --buckets: the least bucket count (1...1073741824; default: the scenario's concurrent flows, or a capture's distinct flows).")
    var capacity: Int?
    @Option(help: "Design fast: packets hashed and prefetched together (1...64; default 16; 1 looks each packet up alone).")
    var lookupBatch: Int?
    @Flag(help: "Design fast: store IPv4 tuples only, in 72-byte entries and a denser index; an IPv6 packet is not tracked and is counted in drop.")
    var ipv4Only = false
    @Option(name: .customLong("inject"), help: "Inject a fault (repeatable): \(Fault.allCases.map(\.rawValue).joined(separator: ", ")).")
    var faults: [Fault] = []
    @Option(name: .customLong("set"), help: ArgumentHelp("A plugin's knob, NAME=VALUE (repeatable; each within the range the plugin declares; compare: every plugin that declares NAME takes it).", valueName: "name=value"))
    var knobSettings: [String] = []

    /// `--set NAME=VALUE` given, by name.
    func parsedKnobSettings() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for spec in knobSettings {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let v = Int(parts[1]) else {
                throw ValidationError("--set takes NAME=VALUE with an integer VALUE (e.g. rounds=8), got '\(spec)'")
            }
            guard out[parts[0]] == nil else { throw ValidationError("--set names \(parts[0]) twice") }
            out[parts[0]] = v
        }
        return out
    }

    /// Checks `settings` against the knobs the plugins among `designs`
    /// declare: each name is some plugin's knob, and its value is in that
    /// plugin's range.
    static func checkKnobSettings(_ settings: [String: Int], designs: [DesignTraits]) throws {
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            let knobs = designs.flatMap { t in t.knobs.filter { $0.viaSet && $0.name == name }.map { (t.name, $0) } }
            guard !knobs.isEmpty else {
                let declared = Set(designs.flatMap { $0.knobs.filter(\.viaSet).map(\.name) }).sorted()
                throw ValidationError("--set \(name)=\(value): no plugin run declares a knob \(name)"
                    + (declared.isEmpty ? " (none declares any; built-in settings have options of their own)" : " (allowed: \(declared.joined(separator: ", ")))"))
            }
            for (design, k) in knobs where !k.range.contains(value) {
                throw ValidationError("--set \(name) must be in \(k.range.lowerBound)...\(k.range.upperBound) for design \(design), got \(value)")
            }
        }
    }

    func tableConfig() throws -> TableConfig {
        var t = Timeouts(mode: timeouts)
        for (name, v) in [("--established-timeout", establishedTimeout), ("--other-timeout", otherTimeout),
                          ("--udp-timeout", udpTimeout), ("--udp-stream-timeout", udpStreamTimeout)] {
            if let v, !(v >= 0 && v <= 1e9) { throw ValidationError("\(name) must be in 0...1000000000 seconds, got \(v)") }
        }
        // A value not given keeps the table's own (the mode's defaults).
        if let v = establishedTimeout { t.established = Int64(v * 1e9) }
        if let v = otherTimeout { t.other = Int64(v * 1e9) }
        if let v = udpTimeout { t.udp = Int64(v * 1e9) }
        if let v = udpStreamTimeout { t.udpStream = Int64(v * 1e9) }
        // Checked with the rest of the configuration by RunConfig.validate().
        var c = TableConfig(buckets: buckets ?? 1 << 14, hashSeed: hashSeed, variant: variant, faults: Set(faults),
                            timeouts: t, maxConnections: maxConnections)
        c.expectedConnections = capacity
        c.bucketsGiven = buckets != nil
        c.lookupBatch = lookupBatch
        c.ipv4Only = ipv4Only
        c.knobSettings = try parsedKnobSettings()
        return c
    }
}

struct ReaperOptions: ParsableArguments {
    @Option(help: "Reaper schedule: seed, linux2022, cilium, ovs, or off (default: the design's own: linux2022 for fast and linux, ovs for ovs, seed for the others).")
    var policy: PolicyName?
    // The settings of one policy are optional so that a run can tell the
    // ones given: a setting of a policy the run does not use is refused
    // (`refuseInactiveSettings`), never silently ignored.
    @Option(help: "Seed policy: a pass walks buckets/fraction buckets (1...1048576; default 128).")
    var fraction: Int?
    @Option(help: "Seed policy: above this percentage of expired tuples the next pass comes after the minimum interval (0...100; default 50).")
    var maxExpiredPct: Int?
    @Option(help: "Seed policy: minimum interval and increment, milliseconds ((0, 3600000]; default 10).")
    var minIntervalMs: Double?
    @Option(help: "Seed policy: time to traverse the whole table at the maximum interval, seconds ((0, 86400]; default 60).")
    var maxFullTraversal: Double?
    @Option(help: "Delay before the first pass, seconds (0...1000000000; default 5, the seed's).")
    var reaperStartDelay: Double = 5
    @Option(help: "linux2022 policy: buckets per pass (1...268435456; default 1024).")
    var linuxBucketsPerPass: Int?
    @Option(help: "cilium policy: above this delete ratio, percent, the interval shrinks by the ratio (0...100; default 25).")
    var ciliumShrinkAbovePct: Int?
    @Option(help: "cilium policy: below this delete ratio, percent, the interval grows x1.5 (0...100, at most --cilium-shrink-above-pct; default 5).")
    var ciliumGrowBelowPct: Int?
    @Option(help: "ovs policy: time between the end of a sweep and the next, ms (1...3600000; OVS sweep_ms; default 20000).")
    var ovsSweepMs: Int?
    @Option(help: "ovs policy: a pass covers 1/divisor of the slots (1...65536; OVS: limit/64 entries; default 64).")
    var ovsPassDivisor: Int?
    @Option(help: "ovs policy: delay before the next pass of an unfinished sweep, ms (0...60000; default 200).")
    var ovsResumeMs: Int?
    @Flag(help: "Walk every reaper pass, even those a long idle gap makes computable from a summary (slow; the counters are the same).")
    var noFastForward = false

    /// Converts the values (range checks that conversion needs happen
    /// here; the policy's own rules in `RunConfig.validate()`).
    func choice(for design: DesignTraits?) throws -> ReaperPolicyChoice? {
        let fraction = fraction ?? 128, maxExpiredPct = maxExpiredPct ?? 50
        let minIntervalMs = minIntervalMs ?? 10, maxFullTraversal = maxFullTraversal ?? 60
        let linuxBucketsPerPass = linuxBucketsPerPass ?? 1024
        let ciliumShrinkAbovePct = ciliumShrinkAbovePct ?? 25, ciliumGrowBelowPct = ciliumGrowBelowPct ?? 5
        let ovsSweepMs = ovsSweepMs ?? 20_000, ovsPassDivisor = ovsPassDivisor ?? 64, ovsResumeMs = ovsResumeMs ?? 200
        guard fraction >= 1 && fraction <= 1 << 20 else { throw ValidationError("--fraction must be in 1...1048576, got \(fraction)") }
        guard minIntervalMs > 0 && minIntervalMs <= 3_600_000 else { throw ValidationError("--min-interval-ms must be in (0, 3600000], got \(minIntervalMs)") }
        guard maxFullTraversal > 0 && maxFullTraversal <= 86400 else { throw ValidationError("--max-full-traversal must be in (0, 86400] seconds, got \(maxFullTraversal)") }
        guard reaperStartDelay >= 0 && reaperStartDelay <= 1e9 else {
            throw ValidationError("--reaper-start-delay must be in 0...1000000000 seconds, got \(reaperStartDelay)")
        }
        for (name, v) in [("--cilium-shrink-above-pct", ciliumShrinkAbovePct), ("--cilium-grow-below-pct", ciliumGrowBelowPct)] where !(0...100).contains(v) {
            throw ValidationError("\(name) must be in 0...100, got \(v)")
        }
        guard (1...268_435_456).contains(linuxBucketsPerPass) else {
            throw ValidationError("--linux-buckets-per-pass must be in 1...268435456, got \(linuxBucketsPerPass)")
        }
        // Checked whatever the policy, as the cilium ranges are.
        guard (1...3_600_000).contains(ovsSweepMs) else { throw ValidationError("--ovs-sweep-ms must be in 1...3600000, got \(ovsSweepMs)") }
        guard (1...65536).contains(ovsPassDivisor) else { throw ValidationError("--ovs-pass-divisor must be in 1...65536, got \(ovsPassDivisor)") }
        guard (0...60_000).contains(ovsResumeMs) else { throw ValidationError("--ovs-resume-ms must be in 0...60000, got \(ovsResumeMs)") }
        let seed = SeedReaperPolicy(fraction: fraction, maxExpiredPercent: maxExpiredPct,
                                    minInterval: Int64(minIntervalMs * 1e6), maxFullTraversal: Int64(maxFullTraversal * 1e9))
        switch activePolicy(for: design) {
        case .seed: return .seed(seed)
        case .linux2022: return .linux2022(Linux2022ReaperPolicy(bucketsPerPass: linuxBucketsPerPass))
        case .cilium:
            var p = CiliumReaperPolicy()
            p.shrinkAbovePercent = ciliumShrinkAbovePct
            p.growBelowPercent = ciliumGrowBelowPct
            return .cilium(p)
        case .ovs:
            return .ovs(OVSReaperPolicy(sweepInterval: Int64(ovsSweepMs) * Duration_ns.millisecond,
                                        resumeDelay: Int64(ovsResumeMs) * Duration_ns.millisecond, passDivisor: ovsPassDivisor))
        case .off: return nil
        }
    }

    /// The schedule a run of `design` uses: `--policy`, or the design's own.
    func activePolicy(for design: DesignTraits?) -> PolicyName {
        policy ?? PolicyName(rawValue: design?.defaultPolicy ?? "seed") ?? .seed
    }

    /// The settings given, each with the policy it belongs to.
    var givenSettings: [(option: String, policy: PolicyName)] {
        let all: [(String, PolicyName, Bool)] = [
            ("--fraction", .seed, fraction != nil), ("--max-expired-pct", .seed, maxExpiredPct != nil),
            ("--min-interval-ms", .seed, minIntervalMs != nil), ("--max-full-traversal", .seed, maxFullTraversal != nil),
            ("--linux-buckets-per-pass", .linux2022, linuxBucketsPerPass != nil),
            ("--cilium-shrink-above-pct", .cilium, ciliumShrinkAbovePct != nil), ("--cilium-grow-below-pct", .cilium, ciliumGrowBelowPct != nil),
            ("--ovs-sweep-ms", .ovs, ovsSweepMs != nil), ("--ovs-pass-divisor", .ovs, ovsPassDivisor != nil),
            ("--ovs-resume-ms", .ovs, ovsResumeMs != nil),
        ]
        return all.filter(\.2).map { ($0.0, $0.1) }
    }

    /// Refuses a setting of a policy a run of `design` does not use.
    func refuseSettingsUnused(byARunOf design: String) throws {
        let traits = TableDesigns.named(design)?.traits
        try refuseInactiveSettings(active: [activePolicy(for: traits)],
                                   who: "this run" + (policy == nil ? " of \(traits?.name ?? design) (its default)" : ""))
    }

    /// Refuses a setting of a policy none of `active` is, in one line
    /// naming the policies `who` (the run, the comparison) uses.
    /// `viaPolicies`: the runs' policies come from `compare --policies`.
    func refuseInactiveSettings(active: Set<PolicyName>, who: String, viaPolicies: Bool = false) throws {
        guard let s = givenSettings.first(where: { !active.contains($0.policy) }) else { return }
        let names = active.map(\.rawValue).sorted().joined(separator: ", ")
        let p = s.policy.rawValue
        throw ValidationError("\(s.option) is a setting of the \(p) reaper policy, and \(who) uses \(names); "
            + (viaPolicies ? "add \(p) to --policies" : "--policy \(p) selects it"))
    }
}

struct ScenarioArgs: ParsableArguments {
    // Optional so that a replay can tell the ones given (and refuse them);
    // the defaults are ScenarioOptions'.
    @Option(help: "Traffic: \(ScenarioKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: mix).")
    var scenario: ScenarioKind?
    @Option(help: "Concurrent flows (slots); finished flows are replaced (1...50000000; default 100000).")
    var flows: Int?
    @Option(help: "Packets in total (1...10000000000; default 10000000).")
    var packets: Int?
    @Option(help: "Virtual duration covered by the packets, seconds ((0, 1000000000]; default 600).")
    var duration: Double?
    @Option(help: "Fraction of flows over IPv6 (0...1; default 0.2).")
    var ipv6Ratio: Double?
    @Option(help: "Fraction of NAT-redirected flows in the nat scenario (0...1; default 0.5).")
    var natFraction: Double?
    @Flag(help: "Workers share one flow population (contention) instead of disjoint shards.")
    var shared = false
    @Option(help: "Seed of the packet stream (0...18446744073709551615; default 1).")
    var seed: UInt64?
    @Option(help: ArgumentHelp("Traffic that changes: a built-in profile (\(Workload.profileNames.joined(separator: ", ")); `conntrack-bench workloads` lists them) or a workload file (YAML, docs/workloads.md) played phase by phase instead of a scenario.", valueName: "name|file"))
    var workload: String?
    @Option(help: "With --workload: every phase this many times as long, at the same rates (0.01...1000; default 1).")
    var timeScale: Double?

    /// The workload named by --workload, stretched by --time-scale; nil
    /// without --workload. A bad file is a usage error naming its line.
    func loadedWorkload() throws -> (Workload, Double)? {
        guard let spec = workload else {
            if timeScale != nil { throw ValidationError("--time-scale applies to a workload (--workload)") }
            return nil
        }
        let scale = timeScale ?? 1
        guard scale >= 0.01 && scale <= 1000 else { throw ValidationError("--time-scale must be in 0.01...1000, got \(scale)") }
        let scenarioOnly = given.filter { !["--seed", "--workload", "--time-scale"].contains($0) }
        if !scenarioOnly.isEmpty {
            throw ValidationError("\(scenarioOnly.joined(separator: ", ")) \(scenarioOnly.count == 1 ? "does" : "do") not apply to a workload (--workload): its file sets the traffic; --seed does")
        }
        do { return (try Workload.load(spec).scaled(by: scale), scale) } catch { throw ValidationError(error.description) }
    }

    /// The options given on the command line, as spelled there.
    var given: [String] {
        [("--scenario", scenario != nil), ("--flows", flows != nil), ("--packets", packets != nil),
         ("--duration", duration != nil), ("--ipv6-ratio", ipv6Ratio != nil), ("--nat-fraction", natFraction != nil),
         ("--shared", shared), ("--seed", seed != nil), ("--workload", workload != nil),
         ("--time-scale", timeScale != nil)].filter(\.1).map(\.0)
    }

    func options() throws -> ScenarioOptions {
        var o = ScenarioOptions()
        if let v = scenario { o.scenario = v }
        if let v = flows { o.flows = v }
        if let v = packets { o.packets = v }
        if let d = duration {
            guard d > 0 && d <= 1e9 else { throw ValidationError("--duration must be in (0, 1000000000] seconds, got \(d)") }
            o.duration = Int64(d * 1e9)
        }
        if let v = ipv6Ratio { o.ipv6Ratio = v }
        if let v = natFraction { o.natFraction = v }
        o.shared = shared
        if let v = seed { o.seed = v }
        do { try o.validate() } catch { throw ValidationError(error.description) }
        return o
    }
}

struct DriverOptions: ParsableArguments {
    @Option(help: "Worker threads (1...64); default: active cores.")
    var threads: Int?
    @Option(help: "Clock: virtual (packet timestamps), real, or coarse (one read per 256 packets).")
    var clock: ClockMode = .virtual
    @Flag(help: "One worker, timestamp order, reaper passes inline: the report is a pure function of the inputs.")
    var deterministic = false
    @Option(help: "Virtual clock with several workers: lock-step windows of this many ms of virtual time (0...3600000; 0: free-running, whose counters depend on scheduling). Default 100.")
    var windowMs: Double?
    @Option(help: "Lock-step windows holding fewer packets (all workers together) are merged with the next, up to --window-max-ms (0...67108864; default 0: never merged).")
    var windowMinPackets: Int = 0
    @Option(help: "Longest merged lock-step window, ms of virtual time (0...3600000; default 1000): the time resolution sparse traffic trades for fewer barrier crossings.")
    var windowMaxMs: Double = 1000
    @Flag(help: "At lock-step boundaries the leader walks the reaper's passes while the other workers wait, instead of splitting their scans across all workers (fast, and buckets with the fixed walk; the reaper's counters are the same).")
    var noSplitReaper = false
    @Flag(help: "Workers generate their packets themselves between rounds, even when each could have a second CPU to generate ahead on a thread of its own while it processes.")
    var noOverlapGeneration = false
    @Option(help: "How long a worker waiting at a lock-step barrier or in the reaper team spins before it parks, µs (0...100000; default 50). Beside another CPU-bound process a spinning waiter holds the CPU the party it waits for needs.")
    var waitSpinUs: Double = Double(WaitPoint.defaultSpinNanos) / 1000
    @Option(help: "Packets per batch between quiescent points (1...1048576).")
    var batch: Int = 256
    @Option(help: "Packets generated ahead per worker per round, untimed (--batch...67108864).")
    var chunk: Int = 1 << 20
    @Option(help: "Packets per worker processed before timing starts (0 or more).")
    var warmup: Int = 0
    @Option(help: "Time one packet in N for the latency histogram (1...1073741824).")
    var latencySampleEvery: Int = 64
    @Flag(help: "Check the lock order on every acquisition (always on in debug builds).")
    var checkLockOrder = false
    @Option(help: "Exit with code 4 and a lock report after this many seconds without progress (0...86400; default 10; 0: off).")
    var watchdog: Double = 10

    func apply(_ c: inout RunConfig) throws {
        guard watchdog >= 0 && watchdog <= 86400 else { throw ValidationError("--watchdog must be in 0...86400 seconds, got \(watchdog)") }
        if deterministic, let t = threads, t != 1 {
            throw ValidationError("--deterministic runs one worker; drop --threads or set it to 1 (got \(t))")
        }
        c.threads = deterministic ? 1 : threads ?? activeCores()
        c.clock = clock; c.deterministic = deterministic; c.batch = batch; c.chunk = chunk; c.warmup = warmup
        if let w = windowMs {
            guard w >= 0 && w <= 3_600_000 else { throw ValidationError("--window-ms must be in 0...3600000, got \(w)") }
            guard clock == .virtual && !deterministic else {
                throw ValidationError("--window-ms applies to multi-worker runs on the virtual clock (not with --deterministic or --clock \(clock.rawValue))")
            }
            c.windowNanos = Int64((w * 1e6).rounded())
        }
        guard windowMaxMs >= 0 && windowMaxMs <= 3_600_000 else { throw ValidationError("--window-max-ms must be in 0...3600000, got \(windowMaxMs)") }
        c.windowMinPackets = windowMinPackets
        c.splitReaperPasses = !noSplitReaper
        guard waitSpinUs >= 0 && waitSpinUs <= 100_000 else { throw ValidationError("--wait-spin-us must be in 0...100000, got \(waitSpinUs)") }
        c.waitSpinNanos = Int64((waitSpinUs * 1000).rounded())
        c.overlapGeneration = !noOverlapGeneration
        c.windowMaxNanos = Int64((windowMaxMs * 1e6).rounded())
        c.latencySampleEvery = latencySampleEvery
        c.checkLockOrder = checkLockOrder || LockTracker.enabledByDefault
        c.watchdogSeconds = watchdog
    }
}

#if canImport(Glibc)
import Glibc
#endif

func activeCores() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

/// Builds a run configuration from the shared option groups and validates
/// it once (`RunConfig.validate()`), turning its error into a usage error.
func makeRunConfig(_ table: TableOptions, _ reaper: ReaperOptions, _ scenario: ScenarioArgs,
                   _ driver: DriverOptions, allowSeveralDesigns: Bool = false,
                   checkReaperSettingsLater: Bool = false) throws -> RunConfig {
    // `compare` checks the reaper settings against every design it runs,
    // and a restored run against the design it restores.
    var c = RunConfig()
    if !allowSeveralDesigns, !table.knobSettings.isEmpty {
        try TableOptions.checkKnobSettings(try table.parsedKnobSettings(), designs: TableDesigns.named(table.design).map { [$0.traits] } ?? [])
    }
    // A plugin not sized by buckets has no use for --buckets: its slots are its own.
    if !allowSeveralDesigns, table.buckets != nil, PluginLoader.isPluginSpec(table.design),
       let t = TableDesigns.named(table.design)?.traits, !t.sizedByBuckets {
        throw ValidationError("--buckets does not apply to design \(t.name) (it does not declare CTB_TRAIT_SIZED_BY_BUCKETS: its slots are its own)")
    }
    if table.designs.count > 1 && !allowSeveralDesigns {
        throw ValidationError("--design is given \(table.designs.count) times; only compare takes it more than once")
    }
    c.design = table.design
    c.table = try table.tableConfig()
    try reaper.apply(to: &c, refusingUnusedSettings: !allowSeveralDesigns && !checkReaperSettingsLater)
    c.reaperStartDelay = Int64(reaper.reaperStartDelay * 1e9)
    c.reaperFastForward = !reaper.noFastForward
    // The workload first: a scenario option beside it is refused as such,
    // not range-checked.
    let workload = try scenario.loadedWorkload()
    c.scenario = try scenario.options()
    if let (w, scale) = workload { c.source = .workload(w, timeScale: scale) }
    try driver.apply(&c)
    try validated(c)
    return c
}

extension ReaperOptions {
    /// Sets `c`'s reaper for `c.design`: `--policy` and its settings, or
    /// the design's own schedule (none: the reaper is off).
    func apply(to c: inout RunConfig, refusingUnusedSettings: Bool = true) throws {
        let traits = TableDesigns.named(c.design)?.traits
        // Ranges first: a value out of range is refused as such, whatever the policy.
        let choice = try choice(for: traits)
        if refusingUnusedSettings { try refuseSettingsUnused(byARunOf: c.design) }
        if let p = choice {
            c.policy = p
            c.reaperEnabled = true
        } else {
            c.reaperEnabled = false
        }
    }
}

/// `c` after `RunConfig.validate()`, as a usage error when it fails.
@discardableResult
func validated(_ c: RunConfig) throws -> RunConfig {
    do { try c.validate() } catch { throw ValidationError(error.description) }
    return c
}

/// The one rule for seeds every subcommand follows: the flow seed defaults
/// to 1 (`--seed`); a hash seed not given is drawn at random once per
/// invocation, used for every run of it (repeats and designs alike), and
/// printed in every report, so any run can be reproduced with
/// `--hash-seed`.
func drawDefaultSeeds(_ c: inout RunConfig) {
    if c.table.hashSeed == nil { c.table.hashSeed = c.traits.hashSeed(drawnHashSeed) }
}

/// The hash seed drawn for this invocation.
let drawnHashSeed = UInt32.random(in: .min ... .max)
