import Foundation
import Testing
@testable import FlowGen
import TestSupport

/// Workload files: the built-in profiles read, and every kind of mistake a
/// person makes in one is refused with one line naming the file, the line,
/// the key and what is allowed.
@Suite(.oneThread) struct WorkloadFileTests {
    /// A valid two-component, three-phase file; the cases below break one
    /// thing in it at a time.
    static let good = """
        name: small
        summary: "a test"
        components:
          web:
            arrivals: { rate: 100, process: poisson }
            protocol: { tcp: 0.9, udp: 0.1 }
            lifetime: { exponential: 2 }
            size: { lognormal: { median: 6, sigma: 0.5 } }
            endings: { fin-client: 0.6, fin-server: 0.3, rst: 0.05, half-open: 0.02, idle: 0.03 }
          flood:
            attack: syn-flood
            rate: 1000
        phases:
          - name: before
            duration: 10
            run: { web: 1 }
          - name: flood
            duration: 5
            run: { web: 1, flood: 1 }
          - name: after
            duration: 10
            transition: ramp
            run: { web: 2 }
        """

    @Test func theGoodFileReads() throws {
        let w = try Workload.parse(yaml: Self.good, file: "small.yaml")
        #expect(w.name == "small")
        #expect(w.components.map(\.name) == ["web", "flood"])
        #expect(w.phases.map(\.name) == ["before", "flood", "after"])
        #expect(w.duration == 25 * 1_000_000_000)
        #expect(w.phases[2].transition == .ramp)
        #expect(w.phases[1].factors == [1, 1])
        guard case .traffic(let t) = w.components[0].kind else { Issue.record("web is not traffic"); return }
        #expect(t.rate == 100 && t.udp == 0.1 && t.lifetime == .exponential(mean: 2))
        #expect(t.size == .lognormal(median: 6, sigma: 0.5))
        #expect(t.endings.rst == 0.05)
    }

    @Test(arguments: Workload.profileNames)
    func everyProfileReads(_ name: String) throws {
        let w = try Workload.load(name)
        #expect(w.name == name)
        #expect(w.phases.count >= 2, "a profile is about change")
        #expect(!w.summary.isEmpty)
        // Its shipped text is what `workloads NAME` prints, and reads the same.
        let text = try #require(Workload.profileText(name))
        #expect(try Workload.parse(yaml: text, file: name) == w)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var what: String
        /// (text to replace in `good`, its replacement)
        var edit: (String, String)
        var line: Int
        var mentions: [String]
        var testDescription: String { what }
    }

    static let bad: [Bad] = [
        Bad(what: "an unknown key", edit: ("    protocol:", "    protocols:"), line: 6,
            mentions: ["components.web", "unknown key 'protocols'", "allowed:", "arrivals"]),
        Bad(what: "a wrong type", edit: ("rate: 100,", "rate: lots,"), line: 5,
            mentions: ["components.web.arrivals.rate", "must be a number in (0, 1000000000]"]),
        Bad(what: "an out-of-range value", edit: ("rst: 0.05", "rst: 1.5"), line: 9,
            mentions: ["components.web.endings.rst", "out of range 0...1"]),
        Bad(what: "a phase of zero length", edit: ("    duration: 5", "    duration: 0"), line: 18,
            mentions: ["phases[1].duration", "zero length", "0.001...10000000"]),
        Bad(what: "endings that do not sum to 1", edit: ("fin-client: 0.6", "fin-client: 0.7"), line: 9,
            mentions: ["components.web.endings", "sum to 1.1", "not 1"]),
        Bad(what: "protocols that do not sum to 1", edit: ("udp: 0.1", "udp: 0.2"), line: 6,
            mentions: ["components.web.protocol", "sum to 1.1"]),
        Bad(what: "an unknown component in a phase", edit: ("run: { web: 1, flood: 1 }", "run: { web: 1, flod: 1 }"), line: 19,
            mentions: ["phases[1].run", "unknown component 'flod'", "web, flood"]),
        Bad(what: "an unknown attack", edit: ("attack: syn-flood", "attack: smurf"), line: 11,
            mentions: ["components.flood.attack", "'smurf'", "syn-flood, udp-flood, port-scan, many-to-one"]),
        Bad(what: "an unknown arrival process", edit: ("process: poisson", "process: bursty"), line: 5,
            mentions: ["components.web.arrivals.process", "constant, poisson, on-off"]),
        Bad(what: "an unknown transition", edit: ("transition: ramp", "transition: fade"), line: 22,
            mentions: ["phases[2].transition", "step, ramp"]),
        Bad(what: "a phase without a duration", edit: ("    duration: 10\n    transition", "    transition"), line: 20,
            mentions: ["phases[2].duration", "missing"]),
        Bad(what: "both rate and concurrent", edit: ("rate: 100,", "rate: 100, concurrent: 5,"), line: 5,
            mentions: ["components.web.arrivals", "one of rate"]),
        Bad(what: "a negative factor", edit: ("run: { web: 2 }", "run: { web: -2 }"), line: 23,
            mentions: ["phases[2].run.web", "out of range 0...1000000"]),
    ]

    @Test(arguments: Self.bad)
    func aBadFileIsRefusedWithItsLineAndKey(_ b: Bad) throws {
        #expect(Self.good.contains(b.edit.0), "the case's text is not in the file")
        let text = Self.good.replacingOccurrences(of: b.edit.0, with: b.edit.1)
        do {
            _ = try Workload.parse(yaml: text, file: "small.yaml")
            Issue.record("\(b.what): accepted")
        } catch {
            let msg = error.description
            #expect(!msg.contains("\n"), "more than one line: \(msg)")
            #expect(msg.hasPrefix("small.yaml:\(b.line): "), "\(b.what): wrong file or line: \(msg)")
            for m in b.mentions { #expect(msg.contains(m), "\(b.what): does not mention '\(m)': \(msg)") }
        }
    }

    @Test func notYAMLAndEmptyAreRefused() {
        for (text, mention) in [("name: [unclosed", "not YAML"), ("", "empty"), ("- a\n- b", "must be a mapping")] {
            #expect(throws: WorkloadError.self) { _ = try Workload.parse(yaml: text, file: "x.yaml") }
            do { _ = try Workload.parse(yaml: text, file: "x.yaml") } catch {
                #expect(error.description.hasPrefix("x.yaml"), "\(error)")
                #expect(error.description.contains(mention), "\(error)")
                #expect(!error.description.contains("\n"), "\(error)")
            }
        }
    }

    @Test func aSpecThatIsNeitherProfileNorFileIsRefused() {
        for (spec, mention) in [("no-such-profile", "neither a file nor a profile"), ("/no/such/file.yaml", "no such file"),
                                ("/tmp", "not a regular file")] {
            do {
                _ = try Workload.load(spec)
                Issue.record("\(spec): accepted")
            } catch { #expect(error.description.contains(mention), "\(error)") }
        }
    }

    @Test func concurrentFlowsBecomeARateByLittlesLaw() throws {
        let text = Self.good.replacingOccurrences(of: "rate: 100,", with: "concurrent: 500,")
        let w = try Workload.parse(yaml: text, file: "small.yaml")
        guard case .traffic(let t) = w.components[0].kind else { Issue.record("web is not traffic"); return }
        // 500 at once with a mean lifetime of 2 s: 250 new a second.
        #expect(abs(t.rate - 250) < 1e-9)
    }

    @Test func aTimeScaleStretchesThePhasesNotTheRates() throws {
        let w = try Workload.parse(yaml: Self.good, file: "small.yaml")
        let s = w.scaled(by: 10)
        #expect(s.duration == 10 * w.duration)
        #expect(s.components == w.components)
        #expect(s.phases.map(\.factors) == w.phases.map(\.factors))
    }

    @Test func aRampGoesFromThePreviousFactorToItsOwn() throws {
        let w = try Workload.parse(yaml: Self.good, file: "small.yaml")
        let second: Int64 = 1_000_000_000
        #expect(w.factor(0, at: 12 * second) == 1)
        #expect(abs(w.factor(0, at: 20 * second) - 1.5) < 1e-9)
        #expect(w.factor(1, at: 12 * second) == 1)
        // The flood ramps from 1 down to 0 over the last phase.
        #expect(abs(w.factor(1, at: 20 * second) - 0.5) < 1e-9)
    }
}
