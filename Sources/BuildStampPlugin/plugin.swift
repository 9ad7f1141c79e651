import Foundation
import PackagePlugin

/// Writes the commit the package is built from into the `BuildInfo`
/// target before every build (`git rev-parse`, with `+modified` when
/// tracked files differ from it), so `--version` and every report can say
/// which build made them. Outside a git checkout, or without git, the
/// commit is unknown (nil). The file is rewritten only when it changes, so
/// an unchanged tree recompiles nothing.
@main
struct BuildStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "stamp")
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
        return [.prebuildCommand(
            displayName: "Stamping the build with its commit",
            executable: URL(filePath: "/bin/sh"),
            arguments: ["-c", script, "sh", context.package.directoryURL.path(percentEncoded: false), out.path(percentEncoded: false)],
            outputFilesDirectory: out)]
    }
}
