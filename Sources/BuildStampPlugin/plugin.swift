import Foundation
import PackagePlugin

/// Writes the commit the package is built from into the `BuildInfo`
/// target (`git rev-parse`, with `+modified` when tracked files differ
/// from it), so `--version` and every report can say which build made
/// them. Outside a git checkout, or without git, the commit is unknown
/// (nil). The file is rewritten only when it changes, so an unchanged tree
/// recompiles nothing.
///
/// It is a build command whose inputs are every source file of the
/// package, the manifest and git's HEAD, index and refs: it runs again
/// whenever one of them changes. A prebuild command was tried first, but
/// SwiftPM 6.3 reruns those only when it plans the build again (a file
/// added or removed), so an edit, a commit or a revert left the binary
/// naming the commit of an earlier build.
@main
struct BuildStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "stamp")
        let file = out.appending(path: "BuildCommit.swift")
        let root = context.package.directoryURL
        let script = """
            dir=$1 out=$2
            mkdir -p "$out"
            c=$(git -C "$dir" rev-parse --short=12 HEAD 2>/dev/null) || c=
            if [ -n "$c" ] && [ -n "$(git -C "$dir" status --porcelain --untracked-files=no 2>/dev/null | head -n 1)" ]; then
              c="$c+modified"
            fi
            if [ -n "$c" ]; then v="\\"$c\\""; else v=nil; fi
            printf '// Written at build time by the BuildStamp plugin.\\nlet buildCommit: String? = %s\\n' "$v" > "$out/BuildCommit.swift.new"
            if cmp -s "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; then rm -f "$out/BuildCommit.swift.new"
            else mv "$out/BuildCommit.swift.new" "$out/BuildCommit.swift"; fi
            """
        var inputs: [URL] = []
        for t in context.package.targets {
            if let files = t.sourceModule?.sourceFiles { inputs += files.map(\.url) }
        }
        inputs.append(root.appending(path: "Package.swift"))
        inputs += Self.gitFiles(root)
        return [.buildCommand(
            displayName: "Stamping the build with its commit",
            executable: URL(filePath: "/bin/sh"),
            arguments: ["-c", script, "sh", root.path(percentEncoded: false), out.path(percentEncoded: false)],
            inputFiles: inputs,
            outputFiles: [file])]
    }

    /// The files a commit, a checkout or a staged change rewrites: HEAD,
    /// the index, the branch HEAD names and the packed refs, those that
    /// exist. `.git` may be a file naming the directory (a worktree).
    static func gitFiles(_ root: URL) -> [URL] {
        let fm = FileManager.default
        var git = root.appending(path: ".git")
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: git.path(percentEncoded: false), isDirectory: &isDir) else { return [] }
        if !isDir.boolValue {
            guard let text = try? String(contentsOf: git, encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gitdir: ") }) else { return [] }
            let path = String(line.dropFirst("gitdir: ".count))
            git = path.hasPrefix("/") ? URL(filePath: path) : root.appending(path: path)
        }
        var files = ["HEAD", "index", "packed-refs"].map { git.appending(path: $0) }
        if let head = try? String(contentsOf: git.appending(path: "HEAD"), encoding: .utf8), head.hasPrefix("ref: ") {
            let ref = head.dropFirst("ref: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
            files.append(git.appending(path: ref))
        }
        return files.filter { fm.fileExists(atPath: $0.path(percentEncoded: false)) }
    }
}
