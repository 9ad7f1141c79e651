import ArgumentParser
import Foundation

/// An output file that is either written whole or not at all: its path is
/// checked before the run, and the content goes to a temporary file in the
/// same directory that is renamed into place.
struct OutputFile {
    let path: String

    /// Validates that the file can be created; throws a one-line usage error.
    init(_ path: String, option: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        let d = dir.isEmpty ? "." : dir
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(option): directory '\(d)' does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: d) else {
            throw ValidationError("\(option): directory '\(d)' is not writable")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("\(option): '\(path)' is a directory")
        }
    }

    func write(_ data: Data) throws {
        let tmp = path + ".tmp-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: tmp, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }
}

/// Prints a one-line error and exits (2 for usage errors).
func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(("conntrack-bench: error: " + message + "\n").data(using: .utf8)!)
    exit(code)
}
