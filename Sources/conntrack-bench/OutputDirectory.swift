import ArgumentParser
import Foundation

/// A directory of outputs (`sweep --out`): checked before the run (it is a
/// writable directory, or its parent is one and it will be created), so a
/// bad path is never found after the work; each file in it is an
/// `OutputFile`, written whole or not at all.
struct OutputDirectory {
    let path: String
    let option: String

    init(_ path: String, option: String) throws {
        self.path = path
        self.option = option
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard !path.isEmpty else { throw ValidationError("\(option): the path is empty") }
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw ValidationError("\(option): '\(path)' exists and is not a directory") }
            guard fm.isWritableFile(atPath: path) else { throw ValidationError("\(option): directory '\(path)' is not writable") }
        } else {
            let (parent, _) = OutputFile.split(path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path)
            guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("\(option): directory '\(parent)' does not exist")
            }
            guard fm.isWritableFile(atPath: parent) else { throw ValidationError("\(option): directory '\(parent)' is not writable") }
        }
    }

    func create() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }

    /// The output file `name` in this directory. Preconditions: `create()` ran.
    func file(_ name: String) throws -> OutputFile {
        try OutputFile(path.hasSuffix("/") ? path + name : path + "/" + name, option: option)
    }
}
