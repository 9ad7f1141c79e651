import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// An output file that is written whole or not at all. Its path is checked
/// before the run (usage error, exit 2), so a bad path is never discovered
/// after minutes of work; the content goes to a temporary file in the same
/// directory, is flushed to disk and renamed over the target. Only a
/// regular file is ever replaced: a device, a FIFO, a directory or a
/// symbolic link at the path is refused, never clobbered. `-` is standard
/// output.
struct OutputFile {
    let path: String
    let option: String
    var isStdout: Bool { path == "-" }

    /// Paths claimed by this process's outputs, so two options never write
    /// the same file.
    nonisolated(unsafe) static var claimed: [String: String] = [:]

    init(_ path: String, option: String) throws {
        self.path = path
        self.option = option
        if path == "-" {
            try Self.claim("-", option)
            return
        }
        guard !path.isEmpty else { throw ValidationError("\(option): the path is empty") }
        guard !path.hasSuffix("/") else { throw ValidationError("\(option): '\(path)' ends with '/': give a file name") }
        guard path.utf8.count < Int(PATH_MAX) else {
            throw ValidationError("\(option): the path is \(path.utf8.count) bytes long; the limit is \(PATH_MAX - 1)")
        }
        let (dir, name) = Self.split(path)
        guard name.utf8.count <= Int(NAME_MAX) else {
            throw ValidationError("\(option): the file name is \(name.utf8.count) bytes long; the limit is \(NAME_MAX)")
        }
        guard name != "." && name != ".." else { throw ValidationError("\(option): '\(path)' is not a file name") }
        var st = stat()
        guard stat(dir, &st) == 0 else { throw ValidationError("\(option): directory '\(dir)' does not exist") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw ValidationError("\(option): '\(dir)' is not a directory") }
        guard access(dir, W_OK | X_OK) == 0 else { throw ValidationError("\(option): directory '\(dir)' is not writable") }
        if lstat(path, &st) == 0 {
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFREG else {
                throw ValidationError("\(option): '\(path)' exists and is \(Self.describe(kind)); only a regular file is replaced (use another path, or - for standard output)")
            }
        }
        // One key per file: the directory's real path and the name.
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let real = realpath(dir, &buf) != nil ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : dir
        try Self.claim(real + "/" + name, option)
    }

    static func claim(_ key: String, _ option: String) throws {
        if let other = claimed[key] {
            throw ValidationError("\(option) and \(other) name the same output \(key == "-" ? "(standard output)" : "'\(key)'"); give each its own")
        }
        claimed[key] = option
    }

    /// Directory (with "." for a bare name) and file name.
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO"
        case S_IFLNK: "a symbolic link"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Writes `bytes` atomically: temporary file, fsync, rename.
    func write(_ bytes: [UInt8]) throws { try write { emit in try emit(bytes) } }

    /// Writes what `produce` emits, piece by piece (the whole never needs
    /// to be in memory), to the temporary file that replaces the target at
    /// the end; nothing replaces it when `produce` throws.
    func write(_ produce: (_ emit: ([UInt8]) throws -> Void) throws -> Void) throws {
        if isStdout {
            try produce { try Self.writeAll(1, $0, what: "standard output") }
            return
        }
        let (dir, name) = Self.split(path)
        // The temporary name is the target's (cut short so it stays within
        // NAME_MAX and the path within PATH_MAX) with a unique suffix;
        // mkstemp creates it exclusively, so nothing existing is touched.
        // It is kept as bytes: a cut can fall inside a UTF-8 sequence.
        let suffix = Array(".tmp-XXXXXX".utf8)
        let room = min(Int(NAME_MAX) - 1 - suffix.count, Int(PATH_MAX) - 1 - (dir.utf8.count + 2 + suffix.count))
        var tmp = (Array(dir.utf8) + Array("/.".utf8) + Array(name.utf8.prefix(max(0, room))) + suffix + [0])
            .map { CChar(bitPattern: $0) }
        let fd = mkstemp(&tmp)
        guard fd >= 0 else { throw OutputError("\(option): cannot create a temporary file in '\(dir)': \(Self.errnoText())") }
        do {
            try produce { try Self.writeAll(fd, $0, what: path) }
            guard fchmod(fd, 0o644) == 0, fsync(fd) == 0 else { throw OutputError("\(option): cannot flush '\(path)': \(Self.errnoText())") }
            guard close(fd) == 0 else { throw OutputError("\(option): cannot close '\(path)': \(Self.errnoText())") }
            guard rename(tmp, path) == 0 else { throw OutputError("\(option): cannot rename onto '\(path)': \(Self.errnoText())") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OutputError("cannot write \(what): \(errnoText())") }
            off += n
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A failure while writing an output after the run (exit 1).
struct OutputError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Prints a one-line error and exits (2 for usage errors).
func fail(_ message: String, code: Int32 = 2) -> Never {
    writeLine(2, "conntrack-bench: error: " + message)
    exit(code)
}

/// Writes a line to a file descriptor (stdout 1, stderr 2).
func writeLine(_ fd: Int32, _ s: String) {
    try? OutputFile.writeAll(fd, Array((s + "\n").utf8), what: fd == 1 ? "standard output" : "standard error")
}
