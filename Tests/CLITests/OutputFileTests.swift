import Foundation
import Testing

/// Output paths are checked before the run; only a regular file is ever
/// replaced, and it is replaced whole.
@Suite(CLI.skipSanitized) struct OutputFileTests {
    static let run = ["run", "--packets", "1000", "--flows", "100", "--threads", "1", "--no-progress"]

    struct Refused: CustomTestStringConvertible, Sendable {
        var label: String
        /// The --json path, inside the test's directory (`%` is replaced by it).
        var path: String
        var testDescription: String { label }
    }

    static let refusedPaths: [Refused] = [
        Refused(label: "empty name", path: ""),
        Refused(label: "ends with /", path: "%/dir/"),
        Refused(label: "an existing directory", path: "%/sub"),
        Refused(label: "300-byte name", path: "%/" + String(repeating: "n", count: 300)),
        Refused(label: "missing directory", path: "%/missing/x.json"),
        Refused(label: "missing directory at the root", path: "/nonexistent/dir/x.json"),
        Refused(label: "character device", path: "/dev/null"),
        Refused(label: "dot", path: "%/."),
    ]

    @Test(arguments: refusedPaths)
    func refusedBeforeTheRun(_ c: Refused) throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: false)
        let path = c.path.replacingOccurrences(of: "%", with: dir.url.path)
        let r = try CLI.run(Self.run + ["--json", path])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("--json"), "\(r)")
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir.path("sub"), isDirectory: &isDir) && isDir.boolValue)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
        #expect(left == ["sub"], "the refused run left \(left)")
    }

    @Test func devNullStaysADevice() throws {
        _ = try CLI.run(Self.run + ["--json", "/dev/null"])
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
    }

    @Test func symlinkIsNotReplaced() throws {
        let dir = try TempDir()
        try FileManager.default.createSymbolicLink(atPath: dir.path("link.json"), withDestinationPath: dir.path("target.json"))
        let r = try CLI.run(Self.run + ["--json", dir.path("link.json")])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("symbolic link"), "\(r)")
        let dest = try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("link.json"))
        #expect(dest == dir.path("target.json"))
        #expect(!dir.exists("target.json"))
    }

    /// Two outputs on one path, spelled the same or not.
    @Test(arguments: [("same", "same"), ("same", "./same"), ("same", "sub/../same")])
    func twoOutputsOnOnePath(_ a: String, _ b: String) throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: false)
        let r = try CLI.run(Self.run + ["--json", a, "--csv", b], in: dir.url)
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("--json") && r.stderr.contains("--csv"), "\(r)")
        #expect(!dir.exists("same"))
    }

    /// One-character names, relative to the working directory.
    @Test func oneCharacterNames() throws {
        let dir = try TempDir()
        let r = try CLI.run(Self.run + ["--json", "a"], in: dir.url)
        #expect(r.exited(0), "\(r)")
        let g = try CLI.run(["generate", "--packets", "2000", "--flows", "100", "--pcap", "x"], in: dir.url)
        #expect(g.exited(0), "\(g)")
        for f in ["a", "x"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: dir.path(f))[.size] as? Int) ?? 0
            #expect(size > 0, "\(f) was not written")
        }
    }

    /// Names up to NAME_MAX (255 bytes) are written, and only the target
    /// is left (the temporary file was renamed onto it); one byte more is a
    /// usage error.
    @Test(arguments: [1, 200, 243, 244, 252, 255])
    func longNameIsWritten(_ length: Int) throws {
        let dir = try TempDir()
        let name = String(repeating: "n", count: length)
        let r = try CLI.run(Self.run + ["--json", dir.path(name)])
        #expect(r.exited(0), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == [name])
        _ = try jsonObject(atPath: dir.path(name))
    }

    /// Multi-byte characters: the temporary name's cut falls inside one.
    @Test func longMultibyteNameIsWritten() throws {
        let dir = try TempDir()
        let name = String(repeating: "é", count: 124) + "xx.json"
        #expect(name.utf8.count == 255)
        let r = try CLI.run(Self.run + ["--json", dir.path(name)])
        #expect(r.exited(0), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == [name])
    }

    @Test func nameOverNameMaxIsAUsageError() throws {
        let dir = try TempDir()
        let r = try CLI.run(Self.run + ["--json", dir.path(String(repeating: "n", count: 256))])
        CLI.expectUsageError(r)
        #expect(r.stderr.contains("256") && r.stderr.contains("255"), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
    }

    /// An existing regular file is replaced whole.
    @Test func regularFileIsReplaced() throws {
        let dir = try TempDir()
        try Data(repeating: 0x41, count: 1 << 20).write(to: URL(fileURLWithPath: dir.path("r.json")))
        let r = try CLI.run(Self.run + ["--json", dir.path("r.json")])
        #expect(r.exited(0), "\(r)")
        _ = try jsonObject(atPath: dir.path("r.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["r.json"])
    }

    /// `--json -` puts the JSON on stdout and the text report on stderr.
    @Test func jsonToStandardOutput() throws {
        let r = try CLI.run(Self.run + ["--json", "-"])
        #expect(r.exited(0), "\(r)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(obj?["schemaVersion"] != nil, "\(r)")
        #expect(r.stderr.contains("packets"), "\(r)")
    }
}
