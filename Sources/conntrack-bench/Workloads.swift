import ArgumentParser
import ConnTrack
import FlowGen
import Harness

struct Workloads: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the built-in workloads, print one's file, or check a workload file.",
        discussion: "Without an argument: every built-in profile with its phases. With a profile's name: its file as shipped (copy it to start your own). With a file: the file checked, and the same summary (exit 2 and one line naming the line and key when it is wrong). docs/workloads.md documents every key.")

    @Argument(help: ArgumentHelp("A built-in profile's name, or a workload file to check.", valueName: "name|file"))
    var workload: String?

    func run() throws {
        guard let spec = workload else {
            var o = "Built-in workloads (run --workload NAME; `workloads NAME` prints its file):\n"
            for name in Workload.profileNames {
                let w = try load(name)
                o += "\n" + summary(w)
            }
            print(o, terminator: "")
            return
        }
        let w = try load(spec)
        if Workload.profileNames.contains(spec), let text = Workload.profileText(spec) {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        } else {
            print("\(spec): a valid workload\n\n" + summary(w), terminator: "")
        }
    }

    func load(_ spec: String) throws -> Workload {
        do { return try Workload.load(spec) } catch { throw ValidationError(error.description) }
    }

    /// Name, summary, phases with their times and components, and what a
    /// run of it is expected to need.
    func summary(_ w: Workload) -> String {
        let f = ReportFormatter.f
        var o = "\(w.name): \(w.summary)\n"
        for (p, start) in zip(w.phases, w.phaseStarts) {
            let running = zip(w.components, p.factors).filter { $0.1 > 0 }
                .map { $0.1 == 1 ? $0.0.name : "\($0.0.name) ×\(f($0.1, 2))" }
            o += "  \(ReportFormatter.seconds(Double(start) / 1e9))–\(ReportFormatter.seconds(Double(start + p.duration) / 1e9)) s  \(p.name)"
                + (p.transition == .ramp ? " (ramp)" : "") + (p.endsFlows ? " (ends its flows)" : "")
                + ": " + (running.isEmpty ? "idle" : running.joined(separator: ", ")) + "\n"
        }
        let linger = Timeouts().longestUnestablished
        o += "  about \(millions(w.expectedPackets)) packets; at most about \(millions(Double(w.expectedPeakConnections(linger: linger)))) connections in a table with the seed's timeouts\n"
        return o
    }

    func millions(_ v: Double) -> String {
        v >= 1e6 ? ReportFormatter.f(v / 1e6, 1) + " M" : String(Int(v.rounded()))
    }
}
