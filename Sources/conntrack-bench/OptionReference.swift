import ArgumentParser
import ConnTrack
import Foundation

/// `conntrack-bench options`: docs/options.md, generated from the option
/// declarations (ArgumentParser's help dump, read in process) and the
/// design registry's traits, as `metrics` generates docs/metrics.md from
/// the catalogue. A test keeps the file equal to the output.
struct OptionReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "options",
        abstract: "Print the option reference (docs/options.md) as Markdown: every option of every subcommand from its declaration, and which designs take which table option.")

    mutating func run() throws { print(try Self.markdown(), terminator: "") }
}

// MARK: The declarations

extension OptionReference {
    /// A command as `--experimental-dump-help` describes it.
    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var arguments: [Argument]?
        var subcommands: [Command]?
    }

    struct Argument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String
        var names: [Name]?
        var abstract: String?
        var shouldDisplay: Bool?
        var isOptional: Bool?
        var isRepeating: Bool?
        var allValues: [String]?
        var defaultValue: String?
        var valueName: String?

        var longName: String? { names?.first { $0.kind == "long" }.map { "--" + $0.name } }
    }

    private struct Dump: Decodable { var command: Command }

    /// The root command's declarations, every subcommand's included.
    static func declarations() throws -> Command {
        do {
            _ = try Root.parseAsRoot(["--experimental-dump-help"])
        } catch {
            let text = Root.fullMessage(for: error)
            return try JSONDecoder().decode(Dump.self, from: Data(text.utf8)).command
        }
        throw ValidationError("the option declarations could not be read")
    }
}

extension OptionReference {
    /// docs/options.md: the header, then per visible subcommand its prose
    /// and a row per declared option, then which design takes which table
    /// option.
    static func markdown() throws -> String {
        let root = try declarations()
        var o = header + "\n"
        // The visible subcommands, and a hidden one the prose explains (selftest).
        for sub in root.subcommands ?? [] where (sub.shouldDisplay != false || prose[sub.commandName] != nil) && sub.commandName != "help" {
            o += "\n## \(sub.commandName)\n\n"
            let (before, after) = prose[sub.commandName] ?? (sub.abstract ?? "", "")
            if !before.isEmpty { o += before + "\n\n" }
            let rows = (sub.arguments ?? []).filter { a in
                a.shouldDisplay != false && !["--help", "--version"].contains(a.longName ?? "")
            }
            if rows.isEmpty {
                o += "It takes no options.\n"
            } else {
                o += "| option | value | default | what |\n| --- | --- | --- | --- |\n"
                for a in rows { o += row(a) + "\n" }
            }
            if !after.isEmpty { o += "\n" + after + "\n" }
        }
        o += "\n" + designTable()
        return o
    }

    /// One option's row: its name, its values or range and its default as
    /// its declaration and help state them, and the help itself.
    static func row(_ a: Argument) -> String {
        let help = a.abstract ?? ""
        let name = a.kind == "positional" ? (a.valueName ?? "value").uppercased() : (a.longName ?? "?")
        var value: String
        if a.kind == "flag" {
            value = "flag"
        } else if let v = a.allValues, !v.isEmpty {
            value = v.map { "`\($0)`" }.joined(separator: ", ")
        } else if let r = range(in: help) {
            value = r
        } else {
            value = "`<\(a.valueName ?? "value")>`"
        }
        if a.isRepeating == true { value += " (repeatable)" }
        let def = a.kind == "flag" ? "off" : defaultText(help) ?? a.defaultValue.map { "`\($0)`" } ?? "—"
        return "| `\(name)` | \(cell(value)) | \(cell(def)) | \(cell(help)) |"
    }

    /// The first range the help states: `1...64`, `0.001...3600`,
    /// `(0, 3600000]`.
    static func range(in help: String) -> String? {
        if let m = help.firstMatch(of: /(-?[0-9][0-9.]*|--[a-z-]+)\.\.\.[0-9][0-9.]*/) {
            var r = String(m.0)
            while r.hasSuffix(".") { r.removeLast() }
            return r
        }
        if let m = help.firstMatch(of: /\(0, [0-9]+\]/) { return String(m.0) }
        return nil
    }

    /// "default: X" or "default X" in the help, up to the next `;` or `)`.
    static func defaultText(_ help: String) -> String? {
        guard let m = help.firstMatch(of: /[Dd]efault:? ([^;)]+)/) else { return nil }
        return String(m.1).trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ".")))
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

    /// Which design takes each table option that not every design takes:
    /// from the registry's traits, which the configuration checks too
    /// (`TableConfig.validate(for:)`).
    static func designTable() -> String {
        var o = "## Which design takes which table option\n\n"
        o += "Generated from the designs' traits, which `run`, `compare` and `sweep` check: a design refuses an option it does not take "
        o += "(`compare` skips it, saying so). A plugin declares its own ([plugins.md](plugins.md)).\n\n"
        o += "| option | taken by | refused by |\n| --- | --- | --- |\n"
        for option in tableOptions() {
            var taken: [String] = [], refused: [String] = []
            for t in TableDesigns.all.map({ $0.traits }) {
                if takes(t, option) { taken.append("`" + t.name + "`") } else { refused.append("`" + t.name + "`") }
            }
            // Plain, not in backticks: the rows of this table are not a subcommand's options.
            o += "| " + option + " | " + (taken.isEmpty ? "none" : taken.joined(separator: ", "))
            o += " | " + (refused.isEmpty ? "none" : refused.joined(separator: ", ")) + " |\n"
        }
        return o
    }

    /// The table options not every design takes.
    static func tableOptions() -> [String] {
        ["--variant", "--hash-seed", "--max-connections", "--lookup-batch", "--ipv4-only", "--capacity"]
            + Fault.allCases.map { "--inject " + $0.rawValue }
    }

    /// Whether a design with traits `t` takes `option` (as `TableConfig.validate(for:)` checks).
    static func takes(_ t: DesignTraits, _ option: String) -> Bool {
        switch option {
        case "--variant": return t.supportsVariants
        case "--hash-seed": return t.hasHashSeed
        case "--max-connections": return t.connectionLimit
        case "--lookup-batch": return t.batchedLookups
        case "--ipv4-only": return t.ipv4OnlyLayout
        case "--capacity": return t.sizedByCapacity
        default:
            let f = Fault(rawValue: String(option.dropFirst("--inject ".count)))
            return f.map { t.faults.contains($0) } ?? false
        }
    }


}
