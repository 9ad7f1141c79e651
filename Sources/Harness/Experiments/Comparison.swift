import ConnTrack
import Foundation

/// The same stream on every registered design and variant, interleaved
/// A B C A B C … so drift on a shared machine hits every design alike.
/// Designs come from the registry (`TableDesigns.entries`): a new design is
/// compared without an edit here.
public struct Comparison: Sendable {
    /// The label ratios are taken against: the 2020 table.
    public static let baseline = Variant.seed2020.rawValue

    public var base: RunConfig
    /// (label, configuration) per design and variant, in registry order.
    public var entries: [(label: String, config: RunConfig)]
    public var repeats: Int

    /// Every design and variant from the registry, each with the options it
    /// supports: one seed for every design that hashes with one, none for
    /// the others; one
    /// without `policy`'s choice runs its own schedule, and one that cannot
    /// honour an option the user gave is skipped (`skipped` says why).
    /// With `sized`, the designs sized by `--buckets` again with buckets
    /// sized to the flows (the next power of two), labelled by `sizedLabel`.
    /// With `policies` (names), each design once per policy instead, the
    /// design's own schedule under its plain label and the others as
    /// "label/policy"; `policy` then gets the name to use.
    public static func entries(_ base: RunConfig, hashSeed: UInt32?, policy: (DesignTraits, String?) throws -> ReaperPolicyChoice?,
                               policies: [String]? = nil,
                               sized: Bool, sizedLabel: ((String, Int) -> String)? = nil,
                               extra: [DesignEntry] = [],
                               skipped: (String) -> Void) -> [(label: String, config: RunConfig)] {
        var out: [(label: String, config: RunConfig)] = []
        // `extra`: plugins (`compare --design plugin:PATH`), after the registry's.
        for entry in TableDesigns.entries + extra {
            for name in policies.map({ $0.map(Optional.some) }) ?? [nil] {
                var c = base
                c.design = entry.traits.name
                c.table.variant = entry.variant
                c.table.hashSeed = entry.traits.hashSeed(hashSeed)
                let label = name == nil || name == entry.traits.defaultPolicy ? entry.label : "\(entry.label)/\(name!)"
                if base.reaperEnabled {
                    do {
                        if let p = try policy(entry.traits, name) { c.policy = p }
                    } catch {
                        skipped("  \(label): skipped: \(error)")
                        continue
                    }
                }
                do { try c.validate() } catch {
                    skipped("  \(label): skipped: \(error.description)")
                    continue
                }
                out.append((label, c))
                guard sized && entry.traits.sizedByBuckets else { continue }
                var s = c
                var n = 1
                while n < base.expectedFlows { n <<= 1 }
                s.table.buckets = n
                s.table.bucketsGiven = true
                do { try s.validate() } catch {
                    skipped("  \(label)@\(n): skipped: \(error.description)")
                    continue
                }
                // Side by side, a sized run equal to the default is left out;
                // against flows every point is drawn.
                if n != c.table.buckets || sizedLabel != nil { out.append((sizedLabel?(label, n) ?? "\(label)@\(n)", s)) }
            }
        }
        return out
    }

    public init(base: RunConfig, entries: [(label: String, config: RunConfig)], repeats: Int) throws(ConfigError) {
        guard (1...100).contains(repeats) else { throw ConfigError("--repeats must be in 1...100, got \(repeats)") }
        guard entries.contains(where: { $0.label == Self.baseline }) else {
            throw ConfigError("compare needs \(Self.baseline) as its baseline, and it cannot run with these options")
        }
        self.base = base; self.entries = entries; self.repeats = repeats
    }

    /// Runs every entry `repeats` times, interleaved.
    public func run(progress: (String) -> Void) throws(ConfigError) -> ComparisonResult {
        var runs: [String: [RunReport]] = [:]
        for i in 0..<repeats {
            for (name, c) in entries {
                runs[name, default: []].append(try Runner.run(c))
                progress("  repeat \(i + 1)/\(repeats): \(name) done")
            }
        }
        return ComparisonResult(base: base, names: entries.map(\.label), runs: runs, repeats: repeats)
    }
}

/// What a comparison measured: every design's repeats, their spreads and
/// the ratios to the baseline, as a table of catalogue figures.
public struct ComparisonResult: Sendable {
    public var base: RunConfig
    public var names: [String]
    public var runs: [String: [RunReport]]
    public var repeats: Int

    public func summary(_ name: String) -> RepeatedRun { RepeatedRun(runs[name]!) }

    /// Per interleaved pair: the design's packets/s over the baseline's.
    public var ratios: [String: Spread] {
        let seed = runs[Comparison.baseline]!
        return Dictionary(uniqueKeysWithValues: names.map { n in
            (n, Spread(zip(runs[n]!, seed).map { $0.packetsPerSecond / max(1, $1.packetsPerSecond) }))
        })
    }

    /// The figures `compare` shows, after packets/s and the ratio: timing
    /// figures as the median of the repeats, counters as the median run's.
    public static let rows: [Metric] = [
        .establishedLookupRate, .setupRate, .teardownRate, .latencyP50, .latencyP99, .foundPercent, .created, .live,
        .chainP99, .chainMax, .contendedPercent, .removedByReaper, .expiredStillLinked, .reaperCPUSeconds, .reaperSerialShare,
        .bytesPerConnection, .cpusUtilized, .lowestWorkerCPUShare,
    ]

    /// One row's cell for a design.
    static func cell(_ m: Metric, _ r: RepeatedRun) -> String {
        m.kind == .timing ? (r.spread(m).map { m.format($0.median) } ?? "-") : m.text(r.medianRun)
    }

    public var text: String {
        let summary = names.map(self.summary)
        let w = 22
        func line(_ label: String, _ f: (RepeatedRun) -> String) -> String {
            label.padding(toLength: 30, withPad: " ", startingAt: 0) + summary.map { f($0).padding(toLength: w, withPad: " ", startingAt: 0) }.joined()
        }
        let first = summary[0].runs[0]
        let b = base
        let what = if case .workload(let wl, let scale) = b.source {
            "workload \(wl.name)" + (scale != 1 ? " (time scale \(ReportFormatter.f(scale, 2)))" : "")
        } else {
            "scenario \(b.scenario.scenario.rawValue), \(b.scenario.packets) packets"
        }
        var o = "compare: \(what), \(b.threads) worker(s), \(b.table.buckets) buckets, clock \(b.clock.rawValue), \(repeats) interleaved repeat(s); hash seed \(b.table.hashSeed.map(String.init) ?? "-") (--hash-seed), flow seed \(b.scenario.seed)\n"
        o += "  determinism: \(first.determinism.mode)" + (first.determinism.windowMillis.map { ", windows of \(ReportFormatter.f($0, 1)) ms" } ?? "") + "\n"
        o += "  rates: found, created and removed connections over table time: RFC 9693's established-flow, set-up and teardown rates as this stream drives them\n"
        o += "".padding(toLength: 30, withPad: " ", startingAt: 0) + names.map { $0.padding(toLength: w, withPad: " ", startingAt: 0) }.joined() + "\n"
        o += line("packets/s (M), mean ± σ", { r in
            let s = r.packetsPerSecond
            return s.n > 1 ? "\(ReportFormatter.f(s.mean / 1e6)) ± \(ReportFormatter.f(s.stddev / 1e6))" : ReportFormatter.f(s.mean / 1e6)
        }) + "\n"
        if repeats > 1 {
            o += line("packets/s (M), min … max", { "\(ReportFormatter.f($0.packetsPerSecond.min / 1e6)) … \(ReportFormatter.f($0.packetsPerSecond.max / 1e6))" }) + "\n"
        }
        let ratios = self.ratios
        o += "throughput vs \(Comparison.baseline)".padding(toLength: 30, withPad: " ", startingAt: 0) + names.map { n in
            let s = ratios[n]!
            return (s.n > 1 ? "\(ReportFormatter.f(s.mean))x ± \(ReportFormatter.f(s.stddev))" : "\(ReportFormatter.f(s.mean))x")
                .padding(toLength: w, withPad: " ", startingAt: 0)
        }.joined() + "\n"
        if case .workload(let wl, _) = b.source {
            // Each change's recovery, then the figures over the whole run.
            for (i, p) in wl.phases.enumerated().dropFirst() {
                o += line("recovery: \(p.name)", { r in
                    guard let ph = r.medianRun.workload?.phases[i] else { return "-" }
                    return ph.recoverySeconds.map { ReportFormatter.f($0, 1) + " s" } ?? "never"
                }) + "\n"
            }
            for m in Metric.workloadFigures where !Self.rows.contains(where: { $0.id == m.id }) {
                o += line(m.label, { Self.cell(m, $0) }) + "\n"
            }
        }
        for m in Self.rows {
            o += line(m.label, { Self.cell(m, $0) }) + "\n"
        }
        o += line("reaper schedule", { $0.medianRun.policy }) + "\n"
        o += line("reaper passes run / due", { r in r.medianRun.reaperHealth.map { "\($0.passesRun) / \($0.passesDue)" } ?? "off" }) + "\n"
        // The design that keeps no table is the harness's own ceiling.
        if let ceiling = zip(names, summary).first(where: { n, _ in entries(n)?.traits.tracksConnections == false })?.1.packetsPerSecond.mean,
           ceiling > 0 {
            // 1 - t(ceiling)/t(design): the part of the design's time per
            // packet that the harness alone does not spend.
            o += line("share of time in the table", { r in
                r.packetsPerSecond.mean > 0 ? "\(Int((max(0, 1 - r.packetsPerSecond.mean / ceiling) * 100).rounded())) %" : "-"
            }) + "\n"
        }
        var flagged = false
        for (n, r) in zip(names, summary) {
            for (i, run) in r.runs.enumerated() {
                for warning in run.warnings {
                    flagged = true
                    o += "  WARNING: \(n), repeat \(i + 1): \(warning)\n"
                }
            }
        }
        if flagged { o += "  (flagged runs' figures are not comparable: rerun on a quieter machine, or with fewer workers)\n" }
        return o
    }

    /// The design of an entry's label.
    private func entries(_ name: String) -> (any ConnTrackTable.Type)? {
        runs[name]?.first.flatMap { TableDesigns.named($0.design) }
    }

    /// `compare --json`: every design's repeats and the ratios to the baseline.
    public var report: CompareReport {
        CompareReport(designs: Dictionary(uniqueKeysWithValues: names.map { ($0, summary($0)) }),
                      ratiosToSeed2020: ratios, order: names)
    }
}

/// `compare --json`: every design's repeats and the ratios to seed2020.
public struct CompareReport: Codable, Sendable {
    public var schemaVersion = RunReport.schemaVersion
    public var kind = "compare"
    public var designs: [String: RepeatedRun]
    /// Per interleaved pair: the design's packets/s ÷ seed2020's.
    public var ratiosToSeed2020: [String: Spread]
    public var order: [String]
}
