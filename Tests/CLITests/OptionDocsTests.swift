import Foundation
import Testing

/// docs/options.md documents exactly the options the CLI has: one section
/// per subcommand (`## run`), a table whose rows start with the long
/// option name in backticks (`| `--buckets` |`).
@Suite(CLI.skipSanitized) struct OptionDocsTests {
    static let docsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/options.md").standardized.path

    /// Section title -> the long option names of its table rows.
    static func documented() throws -> [String: [String]] {
        let text = try String(contentsOfFile: docsPath, encoding: .utf8)
        var sections: [String: [String]] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                let title = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                current = title.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                sections[current!, default: []] += []
            } else if let m = line.firstMatch(of: /^\|\s*`(--[A-Za-z0-9][A-Za-z0-9-]*)`/) {
                sections[current ?? "(before any section)", default: []].append(String(m.1))
            }
        }
        return sections
    }

    /// The file is `conntrack-bench options`' output, so it cannot drift
    /// from the declarations.
    @Test func theFileIsTheGeneratedReference() throws {
        let o = try CLI.run(["options"])
        #expect(o.exited(0), "\(o)")
        let text = try String(contentsOfFile: Self.docsPath, encoding: .utf8)
        #expect(text == o.stdout, "docs/options.md differs from the declarations: regenerate with conntrack-bench options > docs/options.md")
    }

    @Test func docsExist() {
        #expect(FileManager.default.fileExists(atPath: Self.docsPath), "\(Self.docsPath) is missing")
    }

    /// Every option of a subcommand is documented in its section, once.
    @Test(arguments: Declarations.subcommands)
    func everyOptionIsDocumented(_ sub: String) throws {
        let docs = try Self.documented()
        let rows = try #require(docs[sub], "docs/options.md has no '## \(sub)' section")
        let missing = Declarations.longOptions(sub).filter { !rows.contains($0) }
        #expect(missing.isEmpty, "\(sub): undocumented options \(missing)")
        let twice = Dictionary(grouping: rows) { $0 }.filter { $0.value.count > 1 }.keys.sorted()
        #expect(twice.isEmpty, "\(sub): documented more than once \(twice)")
    }

    /// No section documents an option its subcommand does not have, and
    /// option tables sit only under subcommands that exist.
    @Test func noDocumentedOptionIsMissingFromTheCLI() throws {
        for (section, rows) in try Self.documented() where !rows.isEmpty {
            guard Declarations.subcommands.contains(section) || Declarations.hiddenSubcommands.contains(section) else {
                Issue.record("docs/options.md: '## \(section)' documents \(rows) but there is no such subcommand")
                continue
            }
            let real = Set(Declarations.longOptions(section) + ["--help", "--version"])
            let stale = rows.filter { !real.contains($0) }
            #expect(stale.isEmpty, "\(section): documented but not an option: \(stale)")
        }
    }
}
