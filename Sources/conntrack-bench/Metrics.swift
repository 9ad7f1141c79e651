import ArgumentParser
import Harness

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the metric catalogue (every figure the reports show: name, unit, JSON key, conntrack -S name, kind, direction) as Markdown.")

    mutating func run() throws { print(Metric.markdown, terminator: "") }
}
