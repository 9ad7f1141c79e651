import ConnTrack
import Foundation

/// Throughput against flows: the comparison once per flow count,
/// interleaved within each; a table of medians with min … max, and a plot
/// with a log x-axis.
public struct FlowsComparison: Sendable {
    public var base: RunConfig
    public var flows: [Int]
    public var repeats: Int

    /// Parses "1000,10000,…" (1...12 counts in 1...50000000).
    public static func parse(_ list: String) throws(ConfigError) -> [Int] {
        var flows: [Int] = []
        for s in list.split(separator: ",") {
            guard let f = Int(s.filter { $0 != " " }), f >= 1, f <= 50_000_000 else {
                throw ConfigError("--flows-list takes flow counts in 1...50000000 separated by commas, got '\(s)'")
            }
            flows.append(f)
        }
        guard !flows.isEmpty, flows.count <= 12 else { throw ConfigError("--flows-list takes 1...12 flow counts, got \(flows.count)") }
        return flows
    }

    public init(base: RunConfig, flows: [Int], repeats: Int) {
        self.base = base; self.flows = flows; self.repeats = repeats
    }

    /// Label → flows → packets/s spread.
    public struct Result: Sendable {
        public var order: [String]
        public var cells: [String: [Int: Spread]]
    }

    public func run(entries: (RunConfig) -> [(label: String, config: RunConfig)], progress: (String) -> Void) throws(ConfigError) -> Result {
        var order: [String] = []
        var cells: [String: [Int: Spread]] = [:]
        for f in flows {
            var b = base
            b.scenario.flows = f
            let configs = entries(b)
            for (label, _) in configs where !order.contains(label) { order.append(label) }
            var pps: [String: [Double]] = [:]
            for i in 0..<repeats {
                for (label, c) in configs {
                    pps[label, default: []].append(try Runner.run(c).packetsPerSecond)
                    progress("  \(f) flows, repeat \(i + 1)/\(repeats): \(label) done")
                }
            }
            for (label, v) in pps { cells[label, default: [:]][f] = Spread(v) }
        }
        return Result(order: order, cells: cells)
    }

    public func text(_ r: Result) -> String {
        var o = "compare against flows: scenario \(base.scenario.scenario.rawValue), \(base.scenario.packets) packets per point, \(base.threads) worker(s), \(base.table.buckets) buckets (sized: the next power of two >= flows), \(repeats) interleaved repeat(s); M packets/s, median (min … max)\n"
        o += "flows".padding(toLength: 24, withPad: " ", startingAt: 0) + flows.map { String($0).padding(toLength: 22, withPad: " ", startingAt: 0) }.joined() + "\n"
        for label in r.order {
            o += label.padding(toLength: 24, withPad: " ", startingAt: 0) + flows.map { f in
                guard let s = r.cells[label]?[f] else { return "-".padding(toLength: 22, withPad: " ", startingAt: 0) }
                return "\(ReportFormatter.f(s.median / 1e6)) (\(ReportFormatter.f(s.min / 1e6)) … \(ReportFormatter.f(s.max / 1e6)))"
                    .padding(toLength: 22, withPad: " ", startingAt: 0)
            }.joined() + "\n"
        }
        return o
    }

    public func plot(_ r: Result) -> String {
        var p = SVGPlot(title: "Throughput vs flows (\(base.scenario.scenario.rawValue), \(base.threads) worker(s), \(repeats) repeat(s))",
                        xLabel: "flows", yLabel: "packets/s", logX: true)
        for label in r.order {
            p.series.append(.init(label: label, points: flows.compactMap { f in
                r.cells[label]?[f].map { SVGPlot.Point(Double(f), $0.median, low: $0.min, high: $0.max) }
            }))
        }
        return p.render()
    }
}
