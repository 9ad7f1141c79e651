import ArgumentParser
import BuildInfo
import ConnTrack
import Foundation

struct Root: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conntrack-bench",
        abstract: "Benchmark and stress harness for gVisor's lock-ordered, bucketed conntrack table.",
        version: BuildInfo.versionLine,
        subcommands: [Run.self, Generate.self, Compare.self, Sweep.self, Workloads.self, Diff.self, Dump.self, Metrics.self, OptionReference.self, CheckPlugin.self, Selftest.self],
        defaultSubcommand: Run.self)
}

/// `--opt -5` reaches the parser as an option followed by another option;
/// joined as `--opt=-5` it is a value, so the range check can name it.
func joinNegativeValues(_ args: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        if a.hasPrefix("--"), !a.contains("="), i + 1 < args.count,
           args[i + 1].hasPrefix("-"), Double(args[i + 1]) != nil || args[i + 1].lowercased() == "-inf" {
            out.append(a + "=" + args[i + 1])
            i += 2
            continue
        }
        out.append(a)
        i += 1
    }
    return out
}

/// Every long option any subcommand declares, without its dashes: a
/// plugin's knob may not take one (`sweep` recommends a knob as `--NAME`).
func declaredOptionNames() -> Set<String> {
    var names: Set<String> = []
    for c in Root.configuration.subcommands {
        let help = c.helpMessage(includeHidden: true, columns: 100_000)
        var rest = Substring(help)
        while let r = rest.range(of: "--") {
            rest = rest[r.upperBound...]
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if let first = name.first, first.isLetter { names.insert(String(name)) }
        }
    }
    return names
}

/// ArgumentParser lists three choices or fewer inline ("Please provide one
/// of 'text', 'json' or 'csv'."): the same `allowed: a, b, c` as a longer
/// list gets.
func foldInlineChoices(_ line: String) -> String {
    guard let r = line.range(of: "Please provide one of ") else { return line }
    // The values are the quoted words after it: 'a' and 'b', 'a', 'b' or 'c'.
    let values = line[r.upperBound...].split(separator: "'", omittingEmptySubsequences: false).enumerated()
        .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    guard !values.isEmpty else { return line }
    return String(line[..<r.lowerBound]).trimmingCharacters(in: .whitespaces) + " allowed: " + values.joined(separator: ", ")
}

/// A value the option's type cannot hold ("The value '-1' is invalid for
/// '--hash-seed <hash-seed>'") gets the range its help declares, as a
/// range check's message does.
func withDeclaredRange(_ line: String) -> String {
    guard line.contains("is invalid for '--"), !line.contains("allowed:"),
          let m = line.firstMatch(of: /is invalid for '(--[a-z0-9-]+)/) else { return line }
    let name = String(m.1)
    for sub in Root.configuration.subcommands {
        let help = sub.helpMessage(columns: 10_000)
        guard let r = help.range(of: "  " + name + " ") else { continue }
        let rest = help[r.upperBound...].prefix { $0 != "\n" }
        if let range = rest.firstMatch(of: /-?[0-9]+\.\.\.[0-9]+/) { return line + ", allowed: " + range.0 }
    }
    return line
}

// Usage errors exit with 2 and one line; --help exits 0.
PluginLoader.reserveOptionNames(declaredOptionNames)
do {
    var command = try Root.parseAsRoot(joinNegativeValues(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch {
    let code = Root.exitCode(for: error)
    if code == .success {
        print(Root.fullMessage(for: error))
        exit(0)
    }
    if let e = error as? ArgumentParser.ExitCode { exit(e.rawValue) }
    if error is ValidationError || code == .validationFailure {
        // One line: a list of allowed values ("- a\n- b") is folded into it.
        let lines = Root.message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let head = lines.first ?? "invalid arguments"
        let values = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
        let msg = values.isEmpty ? withDeclaredRange(foldInlineChoices(head))
            : head.replacingOccurrences(of: "Please provide one of the following:", with: "allowed:") + " " + values.joined(separator: ", ")
        fail(msg + " (see --help)")
    }
    if let e = error as? OutputError { fail(e.description, code: 1) }
    fail("\(error)", code: 1)
}
