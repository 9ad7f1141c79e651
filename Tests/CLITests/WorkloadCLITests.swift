import ConnTrack
import Foundation
import Testing

/// `--workload` through the executable: the profiles, a file's errors, the
/// outputs of a run, the capture `generate` writes, compare and sweep.
@Suite(CLI.skipSanitized) struct WorkloadCLITests {
    /// A minute of small traffic with a flood in the middle (a few tens of
    /// thousands of packets).
    static let small = """
        name: small
        summary: "a test"
        components:
          web:
            arrivals: { rate: 200 }
            lifetime: { exponential: 2 }
            size: { constant: 8 }
          flood:
            attack: syn-flood
            rate: 2000
        phases:
          - name: before
            duration: 10
            run: { web: 1 }
          - name: flood
            duration: 5
            run: { web: 1, flood: 1 }
          - name: after
            duration: 15
            run: { web: 1 }
        """

    static func file(_ dir: TempDir, _ text: String = small, name: String = "small.yaml") throws -> String {
        let path = dir.path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func workloadsListsEveryProfile() throws {
        let r = try CLI.run(["workloads"])
        #expect(r.exited(0), "\(r)")
        for name in ["syn-flood", "flash-crowd", "diurnal", "mobile-gateway", "port-scan", "nat-pressure"] {
            #expect(r.stdout.contains("\n\(name): "), "\(name) missing: \(r)")
        }
        // A profile's file, as shipped, is a workload file.
        let dir = try TempDir()
        let shown = try CLI.run(["workloads", "syn-flood"])
        #expect(shown.exited(0) && shown.stdout.contains("name: syn-flood"), "\(shown)")
        let copy = try Self.file(dir, shown.stdout, name: "copy.yaml")
        let checked = try CLI.run(["workloads", copy])
        #expect(checked.exited(0) && checked.stdout.contains("a valid workload"), "\(checked)")
    }

    @Test func aBadFileIsAUsageErrorNamingItsLineAndKey() throws {
        let dir = try TempDir()
        let bad = try Self.file(dir, Self.small.replacingOccurrences(of: "rate: 200", with: "rate: -5"), name: "bad.yaml")
        for args in [["workloads", bad], ["run", "--workload", bad, "--no-progress"], ["generate", "--workload", bad, "--pcap", dir.path("x.pcap")],
                     ["compare", "--workload", bad], ["sweep", "--workload", bad, "--out", dir.path("out")]] {
            let r = try CLI.run(args)
            CLI.expectUsageError(r)
            #expect(r.stderr.contains("bad.yaml:5: components.web.arrivals.rate: -5 is out of range (0, 1000000000]"), "\(r)")
        }
        #expect(!dir.exists("x.pcap") && !dir.exists("out"))
    }

    @Test func scenarioOptionsAreRefusedWithAWorkload() throws {
        let r = try CLI.run(["run", "--workload", "syn-flood", "--flows", "10", "--packets", "5"])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("--flows, --packets do not apply to a workload"), "\(r)")
        let t = try CLI.run(["run", "--time-scale", "2"])
        CLI.expectUsageError(t)
        #expect(t.stderr.contains("--time-scale applies to a workload"), "\(t)")
        let p = try CLI.run(["run", "--plots", "x", "--packets", "100"])
        CLI.expectUsageError(p)
    }

    /// A run writes its phases in the text report, its series as CSV (one
    /// row per virtual second), its JSON and its four plots with the phase
    /// boundaries marked.
    @Test func aRunWritesPhasesSeriesAndPlots() throws {
        let dir = try TempDir()
        let path = try Self.file(dir)
        let r = try CLI.run(["run", "--workload", path, "--design", "fast", "--threads", "2", "--no-progress",
                             "--json", dir.path("r.json"), "--csv", dir.path("r.csv"), "--plots", dir.path("plots")])
        #expect(r.exited(0), "\(r)")
        #expect(r.stdout.contains("workload small"), "\(r)")
        for phase in ["before (0–10 s)", "flood (10–15 s)", "after (15–30 s)"] { #expect(r.stdout.contains(phase), "\(phase): \(r)") }
        #expect(r.stdout.contains("recovery"), "\(r)")
        let csv = try String(contentsOfFile: dir.path("r.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.first?.hasPrefix("virtual_s,phase,packets,") == true)
        #expect(csv.count == 1 + 31, "\(csv.count) lines")
        let json = try jsonObject(atPath: dir.path("r.json"))
        let w = try #require(json["workload"] as? [String: Any])
        #expect((w["phases"] as? [Any])?.count == 3)
        for name in ["live-and-garbage.svg", "reaper-interval.svg", "latency-p99.svg", "drops.svg"] {
            let svg = try String(contentsOfFile: dir.path("plots/" + name), encoding: .utf8)
            // One dashed marker per phase.
            #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 3, "\(name)")
        }
    }

    /// `generate --workload` writes the stream a run plays: replayed, the
    /// capture gives the deterministic run's packets and connections.
    @Test func theCaptureOfAWorkloadReplaysAsTheWorkload() throws {
        let dir = try TempDir()
        let path = try Self.file(dir)
        let g = try CLI.run(["generate", "--workload", path, "--seed", "3", "--pcap", dir.path("w.pcap")])
        #expect(g.exited(0), "\(g)")
        let played = try CLI.run(["run", "--workload", path, "--seed", "3", "--deterministic", "--variant", "fixed", "--hash-seed", "1",
                                  "--no-progress", "--json", dir.path("a.json")])
        let replayed = try CLI.run(["run", "--pcap", dir.path("w.pcap"), "--deterministic", "--variant", "fixed", "--hash-seed", "1",
                                    "--no-progress", "--json", dir.path("b.json")])
        #expect(played.exited(0) && replayed.exited(0), "\(played)\n\(replayed)")
        let a = try jsonObject(atPath: dir.path("a.json")), b = try jsonObject(atPath: dir.path("b.json"))
        for key in ["packets", "created", "insert", "trackerInit"] {
            #expect(canonical(a[key]) == canonical(b[key]), "\(key): \(canonical(a[key])) vs \(canonical(b[key]))")
        }
        #expect(g.stdout.contains("wrote \(canonical(a["packets"]).filter(\.isNumber)) packets"), "\(g)")
    }

    /// compare --workload: every design under each schedule asked, with
    /// each change's recovery, and the overlaid plots.
    @Test func compareShowsEachScheduleRecovery() throws {
        let dir = try TempDir()
        let path = try Self.file(dir)
        let r = try CLI.run(["compare", "--workload", path, "--policies", "seed,linux2022", "--threads", "1", "--deterministic",
                             "--no-progress", "--plots", dir.path("plots")])
        #expect(r.exited(0), "\(r)")
        #expect(r.stdout.contains("compare: workload small"), "\(r)")
        #expect(r.stdout.contains("recovery: flood") && r.stdout.contains("recovery: after"), "\(r)")
        #expect(r.stdout.contains("seed2020/linux2022") && r.stdout.contains("fast/seed"), "\(r)")
        #expect(r.stdout.contains("worst recovery"), "\(r)")
        #expect(try String(contentsOfFile: dir.path("plots/garbage.svg"), encoding: .utf8).contains("seed2020/linux2022"))
        let bad = try CLI.run(["compare", "--workload", path, "--policies", "seed,lru"])
        CLI.expectUsageError(bad)
        #expect(bad.stderr.contains("'lru' is not a reaper schedule"), "\(bad)")
    }

    /// sweep --workload recommends the fraction with the shortest recovery
    /// within the reaper CPU budget, and says so.
    @Test func sweepRecommendsTheShortestRecoveryWithinTheBudget() throws {
        let dir = try TempDir()
        let path = try Self.file(dir)
        let r = try CLI.run(["sweep", "--workload", path, "--vary", "fraction=4,64", "--threads-list", "1", "--deterministic",
                             "--reaper-cpu-budget", "100", "--out", dir.path("out"), "--no-progress"])
        #expect(r.exited(0), "\(r)")
        #expect(r.stdout.contains("reaper CPU budget: 100.00 %"), "\(r)")
        #expect(r.stdout.contains("recommended: --fraction "), "\(r)")
        let csv = try String(contentsOfFile: dir.path("out/sweep.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").first?.contains("workload.worstRecoverySeconds") == true)
    }
}
