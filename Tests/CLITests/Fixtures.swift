import Foundation
import Testing

/// Files several tests read, made once per test process by the CLI itself
/// and removed when the process exits.
enum Fixtures {
    static let dir: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("ctb-cli-fixtures-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fixtures.dir) }
        return d
    }()

    /// Runs `args`; the path of `file` in the fixtures directory when the
    /// run exited 0 and wrote it, otherwise a path that does not exist (the
    /// tests that read it then fail on it, with this run's output recorded).
    static func make(_ file: String, _ args: [String]) -> String {
        let path = dir + "/" + file
        let filled = args.map { $0.replacingOccurrences(of: "@", with: path) }
        guard let r = try? CLI.run(filled), r.exited(0), FileManager.default.fileExists(atPath: path) else {
            Issue.record("fixture \(file) was not made by conntrack-bench \(filled.joined(separator: " "))")
            return path + ".missing"
        }
        return path
    }

    /// A small report (`run --json`).
    static let report = make("report.json",
        ["run", "--packets", "5000", "--flows", "500", "--threads", "2", "--no-progress", "--json", "@"])

    /// A generated capture (the mix scenario, 5000 packets).
    static let capture = make("t.pcap", ["generate", "--scenario", "mix", "--packets", "5000", "--flows", "500", "--pcap", "@"])

    /// The captures in the tree (Captures/README.md), a folder path ending in "/".
    static let captures: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Captures").path + "/"

    /// 340 real loopback TCP connections.
    static let loopback = captures + "loopback.pcap"

    /// The options of the save/restore runs (bucket table, fixed variant).
    static let saveArgs = ["--deterministic", "--scenario", "nat", "--packets", "20000", "--flows", "300", "--hash-seed", "9",
                           "--no-progress", "--variant", "fixed", "--max-connections", "1000000"]

    /// A table saved at 60 s of virtual time by a run with `saveArgs`.
    static let savedTable = make("t.tbl", ["run"] + saveArgs + ["--save", "@", "--save-at", "60"])
}
