import ConnTrack
import Foundation

/// What a sweep measured, and the files it writes: CSV and JSON of every
/// point, SVG plots, and a recommendation.
public struct SweepResult: Sendable {
    public var sweep: Sweep
    public var points: [SweepPoint]
    /// The sampled run of the middle settings (one worker).
    public var series: [Sample]
    public var seriesSettings: [Int]

    /// "mix, buckets/seed2020, 300000 packets, 2 repeat(s)": what every title names.
    var what: String {
        let b = sweep.base
        let design = b.designType.map { $0.traits.label(b.table.variant) } ?? b.design
        let n = b.scenario.packets
        if case .workload(let w, _) = b.source { return "workload \(w.name), \(design), \(sweep.repeats) repeat(s)" }
        return "\(b.scenario.scenario.rawValue), \(design), \(n >= 1_000_000 ? "\(n / 1_000_000) M" : "\(n)") packets, \(sweep.repeats) repeat(s)"
    }

    /// Whether `name` is a file some sweep writes (`files()`, whatever its
    /// settings): what an earlier sweep into the same directory left, and
    /// this one does not write, is removed, so that no plot of other
    /// settings stands beside this sweep's.
    public static func isSweepOutput(_ name: String) -> Bool {
        let fixed: Set<String> = ["sweep.csv", "sweep.json", "recommendation.txt", "chain-vs-load-factor.svg",
                                  "contention-vs-threads.svg", "live-over-time.svg", "reaper-interval-over-time.svg"]
        return fixed.contains(name)
            || name.hasSuffix(".svg") && ["throughput-vs-", "p99-latency-vs-", "expired-kept-vs-"].contains { name.hasPrefix($0) }
    }

    /// Every output file, name and contents.
    public func files() throws -> [(name: String, contents: String)] {
        [("sweep.csv", csv), ("sweep.json", try json()), ("recommendation.txt", recommendation)] + plots()
    }

    /// One row per point: the settings, the worker count, then each
    /// catalogue figure (timing figures as median, σ, min and max of the
    /// repeats; counters as the median run's value) and the flags.
    public var csv: String {
        let columns = Metric.sweepColumns(sweep.base)
        var head = sweep.axes.map(\.name) + ["threads"]
        for m in columns {
            head += m.kind == .timing ? [m.id, m.id + ".stddev", m.id + ".min", m.id + ".max"] : [m.id]
        }
        var out = (head + ["flags"]).joined(separator: ",") + "\n"
        for p in points {
            var row = p.settings.map { String($0.value) } + [String(p.threads)]
            for m in columns {
                if m.kind == .timing {
                    let s = p.spread(m)
                    row += [s?.median, s?.stddev, s?.min, s?.max].map { $0.map { "\($0)" } ?? "" }
                } else {
                    row.append(m.value(p.repeats.medianRun).map { "\($0)" } ?? "")
                }
            }
            out += (row + [p.flags.joined(separator: ";")]).joined(separator: ",") + "\n"
        }
        return out
    }

    /// JSON: the configuration and, per point, its settings and every
    /// sweep figure's spread over the repeats (the full reports would be
    /// megabytes).
    public func json() throws -> String {
        struct Axis: Encodable { var name: String; var values: [Int] }
        struct Point: Encodable { var settings: [String: Int]; var threads: Int; var flags: [String]; var figures: [String: Spread] }
        struct File: Encodable {
            var kind = "sweep"; var design: String; var variant: String; var policy: String
            var axes: [Axis]; var repeats: Int; var points: [Point]
        }
        let b = sweep.base
        let file = File(
            design: b.design, variant: b.designType.map { $0.traits.label(b.table.variant) } ?? b.design,
            policy: b.reaperEnabled ? b.policy.name : "off",
            axes: sweep.axes.map { Axis(name: $0.name, values: $0.values) }, repeats: sweep.repeats,
            points: points.map { p in
                Point(settings: Dictionary(uniqueKeysWithValues: p.settings.map { ($0.name, $0.value) }), threads: p.threads,
                      flags: p.flags,
                      // JSON has no infinity: a recovery that never came is left out here (the CSV has it as inf).
                      figures: Dictionary(uniqueKeysWithValues: Metric.sweepColumns(b).compactMap { m in
                          p.spread(m).flatMap { s in [s.mean, s.min, s.max, s.median, s.stddev].allSatisfy(\.isFinite) ? (m.id, s) : nil }
                      }))
            })
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(file), as: UTF8.self) + "\n"
    }
}
