/// Process exit codes shared by every tool in the package.
public enum ExitCode {
    public static let success: Int32 = 0
    /// A figure regressed (`diff`).
    public static let regression: Int32 = 1
    public static let usage: Int32 = 2
    public static let lockOrderViolation: Int32 = 3
    public static let deadlock: Int32 = 4
    public static let invariantViolation: Int32 = 5
}
