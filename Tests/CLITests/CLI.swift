import Foundation
import Testing
import TestSupport

/// The built `conntrack-bench` executable, run as a subprocess.
enum CLI {
    /// Beside the test bundle (`.build/<config>/`), where `swift test`
    /// builds the executable this target depends on; the package's
    /// `.build/debug/` otherwise. `CONNTRACK_BENCH_BIN` overrides both.
    static let binary: URL = {
        let fm = FileManager.default
        if let p = ProcessInfo.processInfo.environment["CONNTRACK_BENCH_BIN"], !p.isEmpty {
            return URL(fileURLWithPath: p)
        }
        var candidates: [URL] = []
        for exe in [Bundle.main.executableURL, Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap({ $0 }) {
            // The bundle (`X.xctest`) or a file inside it: walk up to the
            // directory that holds the bundle.
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(dir.appendingPathComponent("conntrack-bench"))
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/conntrack-bench"))
        return candidates.first { fm.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    /// The tests run under ThreadSanitizer (`swift test --sanitize=thread`,
    /// which builds the executable with it too). The CLI's contract is
    /// checked by the plain `swift test`; end-to-end races are the
    /// ThreadSanitizer scripts' (scripts/tsan-races), so the suites here
    /// stand aside rather than run every case several times slower.
    static let sanitized = builtWithThreadSanitizer
    static let skipSanitized = Testing.ConditionTrait.disabled(if: sanitized, "built with ThreadSanitizer: the plain swift test checks the CLI")

    /// The package's root directory.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the executable with `args`; stdin is /dev/null, stdout and
    /// stderr are captured. A run that outlives `limit` seconds is killed
    /// and recorded as an issue (a hang guard, far above any case's time).
    @discardableResult
    static func run(_ args: [String], in dir: URL? = nil, limit: Double = 600,
                    environment: [String: String] = [:]) throws -> Outcome {
        let capture = try TempDir()
        let outURL = capture.url.appendingPathComponent("stdout")
        let errURL = capture.url.appendingPathComponent("stderr")
        for u in [outURL, errURL] { try Data().write(to: u) }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let dir { p.currentDirectoryURL = dir }
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        if done.wait(timeout: .now() + limit) == .timedOut {
            p.terminate()
            done.wait()
            Issue.record("conntrack-bench \(args.joined(separator: " ")) ran longer than \(Int(limit)) s and was killed")
        }
        try out.close()
        try err.close()
        return Outcome(args: args,
                       status: p.terminationStatus,
                       signalled: p.terminationReason == .uncaughtSignal,
                       stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                       stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
    }

    struct Outcome: CustomStringConvertible {
        var args: [String]
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String

        /// Exited normally with `code`.
        func exited(_ code: Int32) -> Bool { !signalled && status == code }
        var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty } }
        var description: String {
            "conntrack-bench \(args.joined(separator: " ")) -> \(signalled ? "signal" : "exit") \(status)\nstderr: \(stderr.prefix(2000))\nstdout: \(stdout.suffix(2000))"
        }
    }

    /// The usage contract: exit 2, exactly one line on stderr that starts
    /// with the program's error prefix, nothing on stdout.
    static func expectUsageError(_ o: Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(o.exited(2), "\(o)", sourceLocation: sourceLocation)
        #expect(o.stderrLines.count == 1, "\(o)", sourceLocation: sourceLocation)
        #expect(o.stderr.hasPrefix("conntrack-bench: error: "), "\(o)", sourceLocation: sourceLocation)
        #expect(o.stdout.isEmpty, "\(o)", sourceLocation: sourceLocation)
    }
}

/// A fresh directory, removed when the value goes away (keep it alive,
/// e.g. with `withExtendedLifetime`, while a subprocess uses it).
final class TempDir: @unchecked Sendable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ctb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
}

/// A JSON report's top-level object.
func jsonObject(atPath path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// A JSON value in a canonical text form, for comparing two reports' fields.
func canonical(_ v: Any?) -> String {
    guard let v else { return "absent" }
    guard let d = try? JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]) else { return "\(v)" }
    return String(decoding: d, as: UTF8.self)
}

// MARK: - The option declarations (ArgumentParser's help dump)

/// A command as `--experimental-dump-help` describes it.
struct CommandInfo: Decodable, Sendable {
    var commandName: String
    var shouldDisplay: Bool?
    var arguments: [ArgumentInfo]?
    var subcommands: [CommandInfo]?
}

struct ArgumentInfo: Decodable, Sendable {
    struct Name: Decodable, Sendable { var kind: String; var name: String }
    var kind: String
    var names: [Name]?
    var abstract: String?
    var shouldDisplay: Bool?
    var allValues: [String]?
    var defaultValue: String?
    var valueName: String?

    /// "--name" for an option or flag with a long name.
    var longName: String? { names?.first { $0.kind == "long" }.map { "--" + $0.name } }
    var isOption: Bool { kind == "option" }
    var isPositional: Bool { kind == "positional" }
}

enum Declarations {
    private struct Dump: Decodable { var command: CommandInfo }

    /// The command's declarations; an empty command when the executable
    /// cannot give them (`theOptionDeclarationsAreRead` then fails with why).
    static func dump(_ args: [String]) -> CommandInfo {
        do {
            let o = try CLI.run(args + ["--experimental-dump-help"])
            guard o.exited(0) else {
                record("\(o)")
                return CommandInfo(commandName: "")
            }
            return try JSONDecoder().decode(Dump.self, from: Data(o.stdout.utf8)).command
        } catch {
            record("help dump of \(args) from \(CLI.binary.path): \(error)")
            return CommandInfo(commandName: "")
        }
    }

    /// Why a dump failed.
    static var problems: [String] { lock.withLock { failures } }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var failures: [String] = []
    private static func record(_ s: String) { lock.withLock { failures.append(s) } }

    /// The subcommands a user sees (not ArgumentParser's `help`, not hidden ones).
    static let subcommands: [String] = (dump([]).subcommands ?? [])
        .filter { $0.shouldDisplay != false && $0.commandName != "help" }
        .map(\.commandName)

    /// Subcommands `--help` does not list (selftest).
    static let hiddenSubcommands: [String] = (dump([]).subcommands ?? [])
        .filter { $0.shouldDisplay == false }.map(\.commandName)

    /// Each subcommand's arguments, the hidden ones' included.
    static let arguments: [String: [ArgumentInfo]] = Dictionary(uniqueKeysWithValues:
        (subcommands + hiddenSubcommands).map { ($0, dump([$0]).arguments ?? []) })

    /// The long names of a subcommand's visible options and flags, without
    /// ArgumentParser's own `--help`.
    static func longOptions(_ sub: String) -> [String] {
        (arguments[sub] ?? []).filter { $0.shouldDisplay != false }.compactMap(\.longName).filter { $0 != "--help" && $0 != "--version" }
    }
}

/// An option whose help text declares its range ("(1...64)", "0.1...86400").
struct RangedOption: CustomTestStringConvertible, Sendable {
    var subcommand: String
    var option: String
    var range: String
    var low: Double
    var high: Double
    var testDescription: String { "\(subcommand) \(option) \(range)" }

    static let all: [RangedOption] = Declarations.subcommands.flatMap { sub in
        (Declarations.arguments[sub] ?? []).compactMap { a -> RangedOption? in
            guard a.isOption, let name = a.longName, let help = a.abstract,
                  let m = help.firstMatch(of: /(-?[0-9]+(?:\.[0-9]+)?)\.\.\.([0-9]+(?:\.[0-9]+)?)/),
                  let lo = Double(m.1), let hi = Double(m.2) else { return nil }
            return RangedOption(subcommand: sub, option: name, range: String(m.0), low: lo, high: hi)
        }
    }

    /// A value text: integral values without a fraction.
    static func text(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
