import ConnTrack
import FlowGen
import Foundation
import Testing

/// Every fenced command in README.md and docs/*.md runs against the built
/// executable, shortened by the rule README.md states ("Examples in the
/// docs"), or is marked in the doc as not run with the reason.
///
/// The marker is an HTML comment on the line before the fence:
///
///     <!-- doc-test: run -->
///     <!-- doc-test: run; expect: FRAGMENT; expect: …; other lines not run: REASON -->
///     <!-- doc-test: not run: REASON -->
///
/// A block runs its `conntrack-bench` lines in order, in one directory per
/// doc file that holds the inputs the examples name (`DocInputs`); each
/// must exit 0, or N when its comment starts with `exit N`. Each expected
/// fragment must appear in what the block's commands printed or in a file
/// they wrote.
@Suite(CLI.skipSanitized) struct DocExampleTests {
    /// The examples run in CI's step on the release build (a debug build
    /// takes minutes over the comparisons and sweeps): `scripts/doc-examples`.
    static let running = ProcessInfo.processInfo.environment["CONNTRACK_BENCH_DOC_EXAMPLES"] == "1"

    /// Every block of commands says whether it runs (always checked).
    @Test(arguments: DocFile.all)
    func everyBlockOfCommandsIsMarked(_ file: DocFile) throws {
        for block in try file.blocks() where !block.commands.isEmpty {
            guard let marker = block.marker else {
                Issue.record("\(file.name):\(block.line): a block of commands with no doc-test marker (run, or not run: reason)")
                continue
            }
            if let why = marker.notRun { #expect(!why.isEmpty, "\(file.name):\(block.line): not run, with no reason"); continue }
            let others = block.commands.filter { !$0.isBench }
            if !others.isEmpty && (marker.othersNotRun ?? "").isEmpty {
                Issue.record("\(file.name):\(block.line): \(others.map(\.text)) are not conntrack-bench commands: say why they are not run")
            }
        }
    }

    @Test(.enabled(if: running, "scripts/doc-examples runs them on the release build"), arguments: DocFile.all)
    func examplesRun(_ file: DocFile) throws {
        let dir = try TempDir()
        var inputsMade = false
        for block in try file.blocks() where !block.commands.isEmpty && block.marker != nil && block.marker?.notRun == nil {
            let marker = block.marker!
            if !inputsMade { try DocInputs.make(in: dir); inputsMade = true }
            let before = Date()
            var printed = ""
            for c in block.commands where c.isBench {
                let o = try c.run(in: dir)
                printed += o.stdout + o.stderr
                #expect(o.status == c.expectedExit, "\(file.name):\(c.line): \(c.text)\n  ran as: \(c.shortened.joined(separator: " "))\n\(o)")
            }
            let written = DocInputs.textWritten(in: dir, since: before)
            for f in marker.expected {
                #expect(printed.contains(f) || written.contains(f), "\(file.name):\(block.line): '\(f)' in neither the output nor a file written")
            }
        }
    }

    /// The marker and command parsing, on a sample.
    @Test func parsesMarkersAndShortens() throws {
        let text = """
        <!-- doc-test: run; expect: a b; expect: c; other lines not run: built by CI -->
        ```sh
        swift build
        conntrack-bench run --packets 5000000 \\
            --flows 90000 --repeats 5   # exit 1: why
        conntrack-bench workloads syn-flood > my.yaml
        conntrack-bench run --workload syn-flood --time-scale 120
        conntrack-bench compare --design fast
        ```
        """
        let blocks = DocFile.parse(text)
        try #require(blocks.count == 1)
        let b = blocks[0]
        #expect(b.marker?.expected == ["a b", "c"] && b.marker?.othersNotRun == "built by CI")
        #expect(b.commands.map(\.isBench) == [false, true, true, true, true])
        #expect(b.commands[1].shortened == ["run", "--packets", "20000", "--flows", "2000", "--repeats", "1"])
        #expect(b.commands[1].expectedExit == 1)
        #expect(b.commands[2].shortened == ["workloads", "syn-flood"] && b.commands[2].stdoutFile == "my.yaml")
        #expect(b.commands[3].shortened == ["run", "--workload", "syn-flood", "--time-scale", "0.01"])
        #expect(b.commands[4].shortened == ["compare", "--design", "fast", "--packets", "20000"])
    }
}

/// A markdown file of the package and its fenced blocks.
struct DocFile: CustomTestStringConvertible, Sendable {
    var name: String
    var testDescription: String { name }

    static let all: [DocFile] = {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: CLI.packageRoot.appendingPathComponent("docs").path)) ?? []
        return [DocFile(name: "README.md")] + docs.filter { $0.hasSuffix(".md") }.sorted().map { DocFile(name: "docs/" + $0) }
    }()

    func blocks() throws -> [Block] {
        Self.parse(try String(contentsOf: CLI.packageRoot.appendingPathComponent(name), encoding: .utf8))
    }

    struct Marker: Equatable {
        var notRun: String?
        var othersNotRun: String?
        var expected: [String] = []

        /// `run; expect: X; other lines not run: Y` or `not run: Y`.
        init?(_ line: String) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("<!-- doc-test:"), t.hasSuffix("-->") else { return nil }
            let body = t.dropFirst("<!-- doc-test:".count).dropLast(3).trimmingCharacters(in: .whitespaces)
            for part in body.components(separatedBy: "; ").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if part.hasPrefix("not run:") { notRun = String(part.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
                else if part.hasPrefix("other lines not run:") { othersNotRun = String(part.dropFirst(20)).trimmingCharacters(in: .whitespaces) }
                else if part.hasPrefix("expect:") { expected.append(String(part.dropFirst(7)).trimmingCharacters(in: .whitespaces)) }
            }
        }
    }

    struct Block {
        var line: Int
        var marker: Marker?
        var commands: [Command]
    }

    /// The fenced blocks of `text`, each with the marker on the line before
    /// it and its command lines (continuations joined, comments apart).
    static func parse(_ text: String) -> [Block] {
        let lines = text.components(separatedBy: "\n")
        var out: [Block] = []
        var i = 0
        while i < lines.count {
            guard lines[i].hasPrefix("```") else { i += 1; continue }
            let start = i
            let marker = i > 0 ? Marker(lines[i - 1]) : nil
            var commands: [Command] = []
            i += 1
            while i < lines.count && !lines[i].hasPrefix("```") {
                var l = lines[i], at = i + 1
                while l.hasSuffix("\\") && i + 1 < lines.count { l = String(l.dropLast()) + " " + lines[i + 1].trimmingCharacters(in: .whitespaces); i += 1 }
                if let c = Command(l, line: at) { commands.append(c) }
                i += 1
            }
            out.append(Block(line: start + 1, marker: marker, commands: commands))
            i += 1
        }
        return out
    }
}

/// One command line of a doc.
struct Command {
    var line: Int
    var text: String
    /// The arguments after `conntrack-bench` (nil: another command).
    var args: [String]?
    var stdoutFile: String?
    var expectedExit: Int32 = 0

    var isBench: Bool { args != nil }

    /// A command line, or nil for output and comments.
    init?(_ raw: String, line: Int) {
        var s = raw.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("$ ") { s = String(s.dropFirst(2)) }
        guard !s.isEmpty, !s.hasPrefix("#") else { return nil }
        self.line = line
        var comment = ""
        if let r = s.range(of: " #") { comment = s[r.upperBound...].trimmingCharacters(in: .whitespaces); s = String(s[..<r.lowerBound]) }
        s = s.trimmingCharacters(in: .whitespaces)
        text = s
        if comment.hasPrefix("exit "), let n = Int32(comment.dropFirst(5).prefix { $0.isNumber }) { expectedExit = n }
        var words = s.split(separator: " ").map(String.init)
        if let g = words.firstIndex(of: ">"), g + 1 < words.count { stdoutFile = words[g + 1]; words.removeSubrange(g...) }
        let runPrefix = ["swift", "run", "-c", "release", "conntrack-bench"]
        if words.starts(with: runPrefix) { args = Array(words.dropFirst(runPrefix.count)) }
        else if words.first == "conntrack-bench" { args = Array(words.dropFirst()) }
        else if ["swift", "scripts/", "nm", "cd", "cc", "cargo", "hyperfine", "python3", "git"].contains(where: { words.first?.hasPrefix($0) == true }) { args = nil }
        else { return nil }   // output that looks like nothing to run
    }

    /// The arguments as the tests run them: the rule README.md states.
    var shortened: [String] {
        guard var a = args else { return [] }
        func cap(_ name: String, _ most: Double, _ text: String) {
            if let k = a.firstIndex(of: name), k + 1 < a.count, let v = Double(a[k + 1]), v > most { a[k + 1] = text }
        }
        cap("--packets", 20_000, "20000")
        let scenarioRun = ["run", "compare", "sweep", "generate"].contains(a.first ?? "")
            && !a.contains("--packets") && !a.contains("--workload") && !a.contains("--pcap") && !a.contains("--restore")
        if scenarioRun { a += ["--packets", "20000"] }
        cap("--flows", 2_000, "2000")
        cap("--repeats", 1, "1")
        if a.contains("--workload") {
            if let k = a.firstIndex(of: "--time-scale"), k + 1 < a.count { a[k + 1] = "0.01" }
            else if ["run", "compare", "sweep", "generate"].contains(a.first ?? "") { a += ["--time-scale", "0.01"] }
        }
        // The example plugin, wherever this build put it.
        a = a.map {
            $0 == "plugin:.build/release/libExampleDesign.so" ? "plugin:" + PluginFixture.example
                : $0 == ".build/release/libExampleDesign.so" ? PluginFixture.example : $0
        }
        return a
    }

    func run(in dir: TempDir) throws -> CLI.Outcome {
        let o = try CLI.run(shortened, in: dir.url)
        if let f = stdoutFile { try o.stdout.write(toFile: dir.path(f), atomically: true, encoding: .utf8) }
        return o
    }
}

/// The inputs the docs' examples name, made before a file's first block
/// runs: a three-packet TCP handshake as `t.pcap` (the verdicts and events
/// sample), a small capture as `flows.pcap`, one report as `before.json`
/// and `after.json`, and a saved table as `table.snap`.
enum DocInputs {
    static func make(in dir: TempDir) throws {
        var w = PcapWriter()
        let a = IPAddress(v4: 0x0a00_0001), b = IPAddress(v4: 0x0a00_0002)
        let fwd = TupleID(srcAddr: a, srcPort: 33333, dstAddr: b, dstPort: 80, transProto: .tcp, netProto: .ipv4)
        let rev = TupleID(srcAddr: b, srcPort: 80, dstAddr: a, dstPort: 33333, transProto: .tcp, netProto: .ipv4)
        w.append(Packet(id: fwd, tcp: TCPSegment(flags: [.syn], seq: 1000), hook: .prerouting, timestamp: 0))
        w.append(Packet(id: rev, tcp: TCPSegment(flags: [.syn, .ack], seq: 5000, ack: 1001), hook: .prerouting, timestamp: 100_000))
        w.append(Packet(id: fwd, tcp: TCPSegment(flags: [.ack], seq: 1001, ack: 5001), hook: .prerouting, timestamp: 200_000))
        try Data(w.drain()).write(to: URL(fileURLWithPath: dir.path("t.pcap")))
        let small = ["--packets", "5000", "--flows", "500", "--deterministic", "--hash-seed", "3", "--no-progress"]
        for (args, what) in [(["generate", "--packets", "5000", "--flows", "500", "--pcap", dir.path("flows.pcap")], "flows.pcap"),
                             (["run"] + small + ["--json", dir.path("before.json")], "before.json"),
                             (["run"] + small + ["--save", dir.path("table.snap")], "table.snap")] {
            let o = try CLI.run(args)
            try #require(o.exited(0), "making \(what): \(o)")
        }
        // The same report twice: a gate on two single runs' timings would
        // fail by chance.
        try FileManager.default.copyItem(atPath: dir.path("before.json"), toPath: dir.path("after.json"))
    }

    /// The text of the files under `dir` written since `date` (small ones).
    static func textWritten(in dir: TempDir, since date: Date) -> String {
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir.url.path) else { return "" }
        var out = ""
        for case let name as String in e {
            let p = dir.path(name)
            guard let attrs = try? fm.attributesOfItem(atPath: p), attrs[.type] as? FileAttributeType == .typeRegular,
                  let m = attrs[.modificationDate] as? Date, m >= date, (attrs[.size] as? Int ?? 0) < 8 << 20,
                  let t = try? String(contentsOfFile: p, encoding: .utf8) else { continue }
            out += t
        }
        return out
    }
}
