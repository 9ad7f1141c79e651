import ArgumentParser
import ConnTrack
import FlowGen
import Foundation
import Harness
import Sync

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a scenario (or a capture) through the table with the reaper alongside, and report.")

    @OptionGroup var table: TableOptions
    @OptionGroup var reaper: ReaperOptions
    @OptionGroup var scenario: ScenarioArgs
    @OptionGroup var driver: DriverOptions
    @OptionGroup var snapshot: SnapshotOptions
    @Option(help: "Replay this libpcap file instead of a scenario (Ethernet or raw IP; IPv4/IPv6; TCP/UDP).")
    var pcap: String?
    @Flag(help: "Replay a capture cut short (e.g. a capture still being written) up to its last whole record, with a warning naming the byte offset of the cut; without it such a file is refused.")
    var allowTruncated = false
    @Option(help: "Write the report as JSON (versioned schema) to this file; '-' writes it to standard output and the text report to standard error.")
    var json: String?
    @Option(help: "Write a time series (one row per sample) as CSV to this file ('-': standard output); with --workload, the workload's series (one row per sample of virtual time).")
    var csv: String?
    @Option(help: "With --workload: write its plots over virtual time, phase boundaries marked, as SVG files in this directory (created; live-and-garbage, reaper-interval, latency-p99, drops).")
    var plots: String?
    @Option(help: "Write each packet's verdict to this file as OVS's test-conntrack pcap prints it ('N: new|trk'), in input order ('-': standard output). See docs/verdicts-and-events.md.")
    var verdicts: String?
    @Option(help: "Write the connection events to this file as 'conntrack -E -o timestamp' prints them ([NEW], [UPDATE], [DESTROY]; virtual time), in a deterministic order ('-': standard output).")
    var events: String?
    @Option(help: "Seconds between samples, 0.001...3600: of wall time for the time series and the progress line (default 0.5); with --workload, of virtual time for the workload's series (default 1; the progress line stays every 0.5 s).")
    var sampleInterval: Double?
    @Flag(help: "No live progress line (it is also off when stdout is not a terminal).")
    var noProgress = false
    @Option(help: "Heap allocator: system (glibc) or jemalloc (re-executes with LD_PRELOAD; needs libjemalloc2).")
    var allocator: AllocatorChoice = .system
    @Option(help: "Run the configuration this many times (1...100) and report mean ± σ and min–max; the JSON keeps every repeat.")
    var repeats: Int = 1
    @Option(help: "Soak: stream the scenario without end for this many wall-clock seconds, or 'inf' (until SIGINT/SIGTERM); --packets and --duration set only the rate.")
    var soak: String?
    @Option(help: "Soak: seconds between checks (invariants, reclamation backlog, RSS; 0.1...86400; default 10).")
    var checkEvery: Double = 10
    @Option(help: "Soak: allowed RSS growth after warm-up, percent (0...1000; default 10).")
    var soakRssGrowth: Double = 10
    @Option(help: "Paced run: packets per second arriving in real time (1...1000000000), split evenly between the workers' receive rings; a packet that finds its ring full is dropped and counted (docs/operations.md).")
    var rate: Int?
    @Option(help: "Paced run: descriptors in each worker's receive ring (1...1048576; default 1024).")
    var ring: Int?
    @Option(help: "Run an operation on the table while packets flow, on its own thread: KIND@SECONDS or KIND@every:SECONDS of virtual time; KIND dump (conntrack -L), stats (conntrack -S), flush (conntrack -F), delete:FILTER (conntrack -D; FILTER src=PREFIX,dst=PREFIX,sport=PORT[-PORT],dport=PORT[-PORT], any of them), save (to --save FILE, no pause) or resize:N (rehash to N buckets while packets flow; fast: an index for N connections, as --capacity). Repeatable (docs/operations.md).")
    var op: [String] = []
    @Option(help: "Write the --op dumps' conntrack -L lines to this file ('-': standard output).")
    var opOut: String?
    @Option(help: "With --op: write a plot per operation, packets per millisecond around it, as SVG files in this directory (created; op-N-KIND.svg).")
    var opPlots: String?
    @Flag(help: "Find the lossless rate (RFC 2544 section 26.1, as RFC 9693 uses it): a full-speed run, then paced trials binary-searched to --resolution; the lowest of --searches searches is kept (docs/operations.md).")
    var findLosslessRate = false
    @Option(help: "Seconds of arrivals: per trial of --find-lossless-rate (default 5), or of a paced run (--rate; default: until the stream ends) (0.1...3600).")
    var trialSeconds: Double?
    @Option(help: "Lossless-rate search: stop when the passing and failing rates are within this percent of the failing one (0.1...50; default 1).")
    var resolution: Double?
    @Option(help: "Lossless-rate search: searches to run, the lowest result kept (1...100; default 1).")
    var searches: Int?

    func makeConfig() throws -> RunConfig {
        if let s = sampleInterval, !(s >= 0.001 && s <= 3600) {
            throw ValidationError("--sample-interval must be in 0.001...3600 seconds, got \(s)")
        }
        guard repeats >= 1 && repeats <= 100 else { throw ValidationError("--repeats must be in 1...100, got \(repeats)") }
        guard !allowTruncated || pcap != nil else { throw ValidationError("--allow-truncated applies to a capture (--pcap)") }
        if pcap != nil, !scenario.given.isEmpty {
            let g = scenario.given
            throw ValidationError("\(g.joined(separator: ", ")) \(g.count == 1 ? "does" : "do") not apply to a capture replay (--pcap): its packets, flows and timestamps are the file's")
        }
        if verdicts != nil || events != nil, repeats > 1 {
            throw ValidationError("--verdicts and --events record a single run (not with --repeats)")
        }
        var c = try makeRunConfig(table, reaper, scenario, driver, checkReaperSettingsLater: snapshot.restore != nil)
        if case .workload = c.source {
            if let s = sampleInterval { c.workloadSampleNanos = Int64((s * 1e9).rounded()) }
            try validated(c)
        } else if plots != nil {
            throw ValidationError("--plots applies to a workload run (--workload); sweep and compare draw their own")
        }
        if !op.isEmpty {
            do { c.operations = try op.map { s throws(ConfigError) in try OperationSpec.parse(s) } } catch { throw ValidationError(error.description) }
            c = try validated(c)
        }
        if c.operations.contains(where: { $0.kind == .save }) && snapshot.save == nil {
            throw ValidationError("--op save needs --save FILE (the last save is written there)")
        }
        if opPlots != nil && c.operations.isEmpty {
            throw ValidationError("--op-plots draws the operations: give --op KIND@SECONDS too")
        }
        if opOut != nil && repeats > 1 {
            throw ValidationError("--op-out records a single run's dumps (not with --repeats)")
        }
        if opOut != nil && !c.operations.contains(where: { $0.kind == .dump }) {
            throw ValidationError("--op-out takes the lines of a dump: give --op dump@SECONDS too")
        }
        if let ring, !(1...Pacing.maxRing).contains(ring) {
            throw ValidationError("--ring must be in 1...\(Pacing.maxRing) descriptors, got \(ring)")
        }
        if ring != nil && rate == nil && !findLosslessRate {
            throw ValidationError("--ring applies to a paced run: give --rate or --find-lossless-rate too")
        }
        _ = try losslessSettings()
        if let rate {
            if driver.windowMs != nil {
                throw ValidationError("--window-ms does not apply to a paced run (--rate): its workers run free, each at its own ring")
            }
            c.pacing = Pacing(rate: rate, ring: ring ?? Pacing.defaultRing)
            if let s = trialSeconds {
                guard LosslessSearch.Settings.trialSecondsRange.contains(s) else {
                    throw ValidationError("--trial-seconds must be in 0.1...3600, got \(s)")
                }
                c.pacing!.seconds = s
            }
            c = try validated(c)
        }
        if let soak {
            let secs = ["inf", "infinity"].contains(soak.lowercased()) ? Double.infinity : Double(soak)
            guard let secs, secs > 0, !secs.isNaN else {
                throw ValidationError("--soak must be a positive number of seconds or inf, got '\(soak)'")
            }
            guard repeats == 1, pcap == nil else { throw ValidationError("--soak runs once on a generated scenario (not with --repeats or --pcap)") }
            var s = SoakConfig(seconds: secs)
            s.checkEvery = checkEvery
            s.rssGrowthLimit = soakRssGrowth / 100
            c.soak = s
            c.scenario.unbounded = true
            try validated(c)
        }
        return c
    }

    /// The search's settings; nil without --find-lossless-rate (whose
    /// options are then refused).
    func losslessSettings() throws -> LosslessSearch.Settings? {
        guard findLosslessRate else {
            let given = [("--trial-seconds", trialSeconds != nil && rate == nil), ("--resolution", resolution != nil), ("--searches", searches != nil)]
            if let g = given.first(where: { $0.1 }) {
                throw ValidationError("\(g.0) applies to --find-lossless-rate" + (g.0 == "--trial-seconds" ? " or a paced run (--rate)" : ""))
            }
            return nil
        }
        var s = LosslessSearch.Settings()
        if let trialSeconds { s.trialSeconds = trialSeconds }
        if let resolution { s.resolution = resolution / 100 }
        if let searches { s.searches = searches }
        do { try s.validate() } catch { throw ValidationError(error.description) }
        if rate != nil { throw ValidationError("--find-lossless-rate finds the rate itself: drop --rate") }
        let refused = [("--repeats", repeats != 1), ("--soak", soak != nil), ("--deterministic", driver.deterministic),
                       ("--window-ms", driver.windowMs != nil), ("--warmup", driver.warmup != 0),
                       ("--verdicts", verdicts != nil), ("--events", events != nil), ("--csv", csv != nil),
                       ("--save", snapshot.save != nil), ("--dump", snapshot.dump != nil)]
        if let r = refused.first(where: { $0.1 }) {
            throw ValidationError("--find-lossless-rate runs its own trials: not with \(r.0)")
        }
        return s
    }

    mutating func run() throws {
        if let search = try losslessSettings() { return try runLosslessSearch(search) }
        var cfg = try makeConfig()
        AllocatorSwitch.ensure(allocator)
        drawDefaultSeeds(&cfg)
        StopSignal.install()
        let jsonOut = try json.map { try OutputFile($0, option: "--json") }
        let csvOut = try csv.map { try OutputFile($0, option: "--csv") }
        let plotsOut = try plots.map { try OutputDirectory($0, option: "--plots") }
        let opPlotsOut = try opPlots.map { try OutputDirectory($0, option: "--op-plots") }
        let isWorkload = if case .workload = cfg.source { true } else { false }
        // Machine-readable output on stdout moves the human text to stderr.
        if verdicts != nil || events != nil, let d = cfg.designType, !d.traits.traces {
            throw ValidationError("--verdicts and --events are not available for design \(d.traits.name): it does not declare CTB_TRAIT_TRACES (docs/plugins.md#verdicts-and-events)")
        }
        let verdictsOut = try verdicts.map { try OutputFile($0, option: "--verdicts") }
        let eventsOut = try events.map { try OutputFile($0, option: "--events") }
        if verdictsOut != nil || eventsOut != nil {
            // Lanes spill beside the output (checked writable), or in $TMPDIR.
            let beside = [verdictsOut, eventsOut].compactMap { $0 }.first { !$0.isStdout }
            let dir = beside.map { OutputFile.split($0.path).0 } ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
            cfg.trace = TraceRecorder(verdicts: verdictsOut != nil, events: eventsOut != nil, spillDirectory: dir)
        }
        // The dumps of --op go to a spill file beside --op-out (or in
        // $TMPDIR), copied to it whole at the end.
        let opOutFile = try opOut.map { try OutputFile($0, option: "--op-out") }
        var opSpill: (fd: Int32, path: String)? = nil
        if let f = opOutFile {
            let dir = f.isStdout ? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") : OutputFile.split(f.path).0
            let path = dir + "/.conntrack-bench-op-\(getpid()).tmp"
            let fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { fail("--op-out: cannot write a spill file in \(dir): \(OutputFile.errnoText())", code: 1) }
            cfg.operationDumpFD = fd
            opSpill = (fd, path)
        }
        defer { if let s = opSpill { close(s.fd); unlink(s.path) } }
        let textFD: Int32 = jsonOut?.isStdout == true || csvOut?.isStdout == true || snapshot.dump == "-"
            || verdictsOut?.isStdout == true || eventsOut?.isStdout == true || opOutFile?.isStdout == true ? 2 : 1
        let showProgress = !noProgress && isatty(textFD) == 1
        // The wall-clock series goes to --csv and to the JSON's
        // `timeSeries`. A workload's series is its own; the wall-clock
        // sampler only drives the progress line then.
        if ((csvOut != nil || jsonOut != nil) && !isWorkload) || showProgress {
            cfg.sampleSeconds = isWorkload ? 0.5 : sampleInterval ?? 0.5
            cfg.progress = { s in
                if showProgress {
                    let line = "\r  \(s.phase ?? "table")  \(Int(s.fractionDone * 100))%  \(Int(s.pps)) pkt/s  live \(s.live)  virtual \(Int(s.virtualSeconds)) s  reaper every \(String(format: "%.3f", s.reaperInterval)) s   "
                    try? OutputFile.writeAll(textFD, Array(line.utf8), what: "the terminal")
                }
            }
        }
        // A capture is checked whole now and streamed during the run.
        if showProgress && pcap != nil {
            try? OutputFile.writeAll(textFD, Array("\r  check  reading the capture's structure   ".utf8), what: "the terminal")
        }
        let capture = openedCapture(&cfg)
        let saveOut = try snapshot.save.map { try OutputFile($0, option: "--save") }
        let dumpOut = try snapshot.dump.map { try OutputFile($0, option: "--dump") }
        let designBefore = cfg.design
        let sink = try snapshot.apply(&cfg, repeats: repeats, designGiven: !table.designs.isEmpty)
        // A restored table keeps its design, and so the reaper is chosen
        // again for it: without --policy, that design's own schedule
        // (linux2022 for fast and linux, ovs for ovs).
        if cfg.design != designBefore {
            try reaper.apply(to: &cfg)
            try validated(cfg)
        } else if snapshot.restore != nil {
            try reaper.refuseSettingsUnused(byARunOf: cfg.design)
        }
        for w in cfg.configWarnings { writeLine(2, "warning: " + w) }
        var reports: [RunReport] = []
        let repeatDir = ScratchDirectory(prefix: "ctb-repeats")
        defer { repeatDir.remove() }
        for i in 0..<repeats {
            if repeats > 1 && showProgress {
                try? OutputFile.writeAll(textFD, Array("\r  repeat \(i + 1) of \(repeats)\n".utf8), what: "the terminal")
            }
            if repeats > 1 && cfg.pacing != nil {
                // Each repeat of a paced run in a fresh process, as the
                // lossless search's trials (see runLosslessSearch: the
                // second in one process stalls in malloc).
                reports.append(try Self.trial(Self.childArguments(CommandLine.arguments, cfg), json: try repeatDir.path(i)))
            } else {
                reports.append(try capture.map { try Runner.run(cfg, capture: $0) } ?? Runner.run(cfg))
            }
            if StopSignal.requested != nil { break }
        }
        let repeated = RepeatedRun(reports)
        let report = repeats > 1 ? repeated.medianRun : reports[0]
        if showProgress { try? OutputFile.writeAll(textFD, Array(("\r" + String(repeating: " ", count: 100) + "\r").utf8), what: "the terminal") }
        try? OutputFile.writeAll(textFD, Array((ReportFormatter.text(report) + (repeats > 1 ? repeated.text : "")).utf8), what: "the report")
        if let jsonOut {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = repeats > 1 ? try enc.encode(ReportWithOutcome(repeated)) : try enc.encode(ReportWithOutcome(report))
            try jsonOut.write(Array(data) + [0x0a])
        }
        if let csvOut { try csvOut.write(report.workload?.csv ?? timeSeriesCSV(report.timeSeries)) }
        if let plotsOut, let w = report.workload {
            try plotsOut.create()
            let title = "\(report.variant == report.design ? report.design : report.design + "/" + report.variant), \(w.name)"
            for (name, svg) in w.plots(title: title) { try plotsOut.file(name).write(svg) }
        }
        if let opPlotsOut, let ops = report.operations {
            try opPlotsOut.create()
            let title = report.variant == report.design ? report.design : report.design + "/" + report.variant
            for (name, svg) in ops.plots(title: title) { try opPlotsOut.file(name).write(svg) }
        }
        if let sink { try snapshot.write(sink, save: saveOut, dump: dumpOut) }
        if let f = opOutFile, let s = opSpill {
            try f.write { emit in
                _ = lseek(s.fd, 0, SEEK_SET)
                var buf = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let n = read(s.fd, &buf, buf.count)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    try emit(Array(buf[0..<n]))
                }
            }
        }
        if let trace = cfg.trace { try writeTrace(trace, cfg, verdicts: verdictsOut, events: eventsOut) }
        // Stopped by a signal: the partial report was written; 128 + signal.
        if let sig = StopSignal.requested { throw ArgumentParser.ExitCode(128 + sig) }
        // The worst outcome of any repeat decides the exit code.
        let outcome = ReportWithOutcome(repeated).outcome
        if outcome != .ok { throw ArgumentParser.ExitCode(outcome.exitCode) }
    }
}

extension Run {
    /// The capture `--pcap` names, checked, made the run's source (or
    /// exit 2 with its one-line error).
    func openedCapture(_ cfg: inout RunConfig) -> Capture? {
        guard let capture = pcap.map({ openCapture($0, allowTruncated: allowTruncated) }) else { return nil }
        cfg.source = .capture(file: capture.path, stats: capture.stats)
        cfg.scenario.packets = max(1, capture.stats.used)
        cfg.clockEpochUnixNanos = capture.firstTimestamp ?? 0
        return capture
    }
}

/// The run's time series as CSV, one row per sample.
func timeSeriesCSV(_ samples: [Sample]) -> String {
    var out = "wall_s,virtual_s,packets,pps,live,reaper_interval_s,expired_ratio,contended_per_million,phase\n"
    for s in samples {
        out += "\(s.wallSeconds),\(s.virtualSeconds),\(s.packets),\(s.pps),\(s.live),\(s.reaperInterval),\(s.expiredRatio),\(s.contendedPerMillion),\(s.phase ?? "")\n"
    }
    return out
}

/// Checks a capture or exits with its one-line error (code 2); a capture
/// cut short and allowed gives a one-line warning.
func openCapture(_ path: String, allowTruncated: Bool) -> Capture {
    switch Result(catching: { () throws(PcapError) -> Capture in try Capture(path: path, allowTruncated: allowTruncated) }) {
    case .success(let c):
        if let w = c.truncationWarning { writeLine(2, "conntrack-bench: warning: " + w) }
        return c
    case .failure(let e): fail(e.description)
    }
}

/// Writes the run's verdicts and events (each whole or not at all; a
/// failure is an output error, exit 1).
func writeTrace(_ trace: TraceRecorder, _ cfg: RunConfig, verdicts: OutputFile?, events: OutputFile?) throws {
    do {
        if let verdicts { try verdicts.write { emit in try trace.writeVerdicts(emit) } }
    } catch let e as TraceOutputError { throw OutputError("--verdicts: " + e.description) }
    do {
        // Virtual time reads as the capture's (or generator's) own dates;
        // a real clock's readings as the wall-clock time they were taken.
        let epoch = cfg.clock == .virtual ? cfg.clockEpochUnixNanos : MonotonicClock.unixEpoch()
        if let events {
            try events.write { emit in try trace.writeEvents(epoch: epoch, emit) }
        }
    } catch let e as TraceOutputError { throw OutputError("--events: " + e.description) }
}

