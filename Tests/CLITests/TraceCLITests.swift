import Foundation
import Testing

/// `run --verdicts` and `run --events`: the forms, the order with several
/// workers, and bad paths (exit 2, one line, nothing written).
@Suite(CLI.skipSanitized) struct TraceCLITests {
    /// A short capture (5 s of virtual time: nothing comes near a timeout,
    /// so one worker and two see the same table states).
    static let capture = Fixtures.make("trace.pcap", ["generate", "--scenario", "mix", "--packets", "3000", "--flows", "200",
                                                      "--duration", "5", "--pcap", "@"])

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    @Test func verdictLinesNumberEveryPacketInOrder() throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--pcap", Self.capture, "--deterministic", "--variant", "fixed", "--no-progress",
                             "--verdicts", dir.path("v.txt"), "--json", dir.path("r.json")])
        #expect(r.exited(0), "\(r)")
        let v = try Self.lines(dir.path("v.txt"))
        let packets = try jsonObject(atPath: dir.path("r.json"))["packets"] as? Int
        #expect(v.count == packets)
        let names = Set(["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"])
        for (k, line) in v.enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1)
            #expect(parts.count == 2 && parts[0] == "\(k + 1):", "line \(k + 1): \(line)")
            let flags = parts.count == 2 ? parts[1].split(separator: "|").map(String.init) : []
            #expect(flags.allSatisfy(names.contains) && flags.contains("trk"), "line \(k + 1): \(line)")
        }
        #expect(v.first == "1: new|trk" || v.first == "1: new|trk|dnat")
        #expect(v.contains { $0.hasSuffix(": est|rpl|trk") })
    }

    @Test func eventLinesAreConntrackForm() throws {
        let dir = try TempDir()
        let r = try CLI.run(["run", "--pcap", Self.capture, "--deterministic", "--variant", "fixed", "--no-progress",
                             "--timeouts", "linux", "--events", dir.path("e.txt"), "--json", dir.path("r.json")])
        #expect(r.exited(0), "\(r)")
        let e = try Self.lines(dir.path("e.txt"))
        let report = try jsonObject(atPath: dir.path("r.json"))
        #expect(e.filter { $0.contains("\t    [NEW] ") }.count == report["created"] as? Int)
        let form = #/^\[(\d{8,})\.(\d{6})\]\t(    \[NEW\]| \[UPDATE\]|\[DESTROY\]) (tcp      6 \d+ [A-Z_]+|udp      17 \d+) src=\S+ dst=\S+ sport=\d+ dport=\d+ (\[UNREPLIED\] )?src=\S+ dst=\S+ sport=\d+ dport=\d+( \[ASSURED\])?$/#
        var last = 0.0
        var seen = Set<String>()
        for line in e {
            guard let m = line.wholeMatch(of: form) else { Issue.record("not conntrack -E form: \(line)"); continue }
            let t = Double("\(m.1).\(m.2)")!
            #expect(t >= last, "time went back: \(line)")
            last = t
            // A connection's first event is its [NEW].
            let key = String(line.split(separator: " ").first { $0.hasPrefix("sport=") } ?? "")
                + String(line.split(separator: " ").first { $0.hasPrefix("src=") } ?? "")
            if m.3 == "    [NEW]" { seen.insert(key) } else { #expect(seen.contains(key), "event before [NEW]: \(line)") }
        }
    }

    /// Two workers give the same lines as one: ordered by input position.
    @Test(arguments: [["--design", "fast"], ["--design", "global-lock"], ["--variant", "fixed", "--hash-seed", "7"]])
    func severalWorkersKeepInputOrder(_ design: [String]) throws {
        let dir = try TempDir()
        let base = ["run", "--pcap", Self.capture, "--no-progress"] + design
        let one = try CLI.run(base + ["--deterministic", "--verdicts", dir.path("v1"), "--events", dir.path("e1")])
        let two = try CLI.run(base + ["--threads", "2", "--verdicts", dir.path("v2"), "--events", dir.path("e2")])
        #expect(one.exited(0) && two.exited(0), "\(one)\n\(two)")
        #expect(try Self.lines(dir.path("v1")) == Self.lines(dir.path("v2")))
        #expect(try Self.lines(dir.path("e1")) == Self.lines(dir.path("e2")))
    }

    @Test func deterministicRunsRepeatExactly() throws {
        let dir = try TempDir()
        let args = ["run", "--scenario", "churn", "--packets", "20000", "--flows", "500", "--deterministic", "--hash-seed", "3",
                    "--no-progress"]
        for k in 1...2 {
            let r = try CLI.run(args + ["--verdicts", dir.path("v\(k)"), "--events", dir.path("e\(k)")])
            #expect(r.exited(0), "\(r)")
        }
        #expect(try Self.lines(dir.path("v1")) == Self.lines(dir.path("v2")))
        let e = try Self.lines(dir.path("e1"))
        #expect(e == (try Self.lines(dir.path("e2"))))
        #expect(e.contains { $0.contains("[DESTROY]") })
    }

    @Test func standardOutputTakesTheLinesAndTheReportMoves() throws {
        let r = try CLI.run(["run", "--pcap", Self.capture, "--deterministic", "--no-progress", "--verdicts", "-"])
        #expect(r.exited(0), "\(r)")
        #expect(r.stdout.hasPrefix("1: "))
        #expect(r.stderr.contains("packets"))
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var label: String
        var args: [String]
        var mentions: String
        var testDescription: String { label }
    }

    static let bad: [Bad] = [
        Bad(label: "verdicts in a missing directory", args: ["--verdicts", "%/missing/v.txt"], mentions: "--verdicts"),
        Bad(label: "events on a directory", args: ["--events", "%/sub"], mentions: "--events"),
        Bad(label: "events on a device", args: ["--events", "/dev/null"], mentions: "--events"),
        Bad(label: "verdicts with an empty path", args: ["--verdicts", ""], mentions: "--verdicts"),
        Bad(label: "both on one file", args: ["--verdicts", "%/x", "--events", "%/x"], mentions: "--events"),
        Bad(label: "verdicts and dump on one file", args: ["--verdicts", "%/x", "--dump", "%/x"], mentions: "--dump"),
        Bad(label: "with repeats", args: ["--verdicts", "%/x", "--repeats", "2"], mentions: "--repeats"),
    ]

    /// `ovs` gives Open vSwitch's own verdicts, line for line, on two
    /// captures of TCP that strays on purpose (`scripts/tcp-edges`: data
    /// past the window, retransmissions, bad ACKs and RSTs, bad flags,
    /// pickups mid-flow, pauses past 30 s; one with window scale 7 and
    /// small windows). The expected lines are OVS d6a632a's
    /// lib/conntrack.c through the plugin ABI (Captures/README.md), so a
    /// change to `ovs`'s tracker, timeouts or expiry shows here.
    @Test(arguments: ["edges", "edges-ws7"])
    func ovsVerdictsOnStrayTCPAreOpenvSwitchs(_ name: String) throws {
        let dir = try TempDir()
        let o = try CLI.run(["run", "--design", "ovs", "--timeouts", "ovs", "--pcap", Fixtures.captures + name + ".pcap",
                             "--verdicts", dir.path("ovs.txt"), "--threads", "1", "--deterministic", "--no-progress"])
        #expect(o.exited(0), "\(o)")
        let got = try Self.lines(dir.path("ovs.txt"))
        let want = try Self.lines(Fixtures.captures + name + ".ovs-d6a632a.verdicts")
        #expect(got.count == want.count && want.count > 2000)
        let differing = zip(got, want).filter { $0 != $1 }
        #expect(differing.isEmpty, "\(differing.count) lines differ, first \(differing.prefix(3))")
        // The capture exercises what it is for: refusals and new connections beside established ones.
        #expect(want.filter { $0.hasSuffix(" inv|trk") }.count > 100 && want.filter { $0.hasSuffix(" new|trk") }.count > 150)
    }

    @Test(arguments: bad)
    func badPathsAreRefusedBeforeTheRun(_ c: Bad) throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: false)
        let args = c.args.map { $0.replacingOccurrences(of: "%", with: dir.url.path) }
        let r = try CLI.run(["run", "--packets", "1000", "--flows", "100", "--no-progress"] + args)
        CLI.expectUsageError(r)
        #expect(r.stderr.contains(c.mentions), "\(r)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
        #expect(left == ["sub"], "the refused run left \(left)")
    }
}
