/// Which build this is: the tool's version, the commit it was built from
/// (written by the BuildStamp plugin; nil outside a git checkout) and the
/// build configuration.
public enum BuildInfo {
    public static let tool = "conntrack-bench"
    public static let version = "0.9.0"
    public static let commit: String? = buildCommit

    /// "release" or "debug".
    public static var configuration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    /// What `--version` prints.
    public static var versionLine: String {
        "\(tool) \(version)" + (commit.map { " (commit \($0))" } ?? " (commit unknown)") + ", \(configuration) build"
    }
}
