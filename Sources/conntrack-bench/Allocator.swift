import ArgumentParser
import CAllocStats
import Foundation

enum AllocatorChoice: String, ExpressibleByArgument, CaseIterable { case system, jemalloc }

/// Switches the process to jemalloc by re-executing it with LD_PRELOAD,
/// since the allocator must be in place before the first allocation.
enum AllocatorSwitch {
    static let candidates = ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
                             "/usr/lib64/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2"]
    static let marker = "CONNTRACK_BENCH_ALLOCATOR_SWITCHED"

    /// Returns when the process runs on the requested allocator; otherwise
    /// re-executes itself or exits with a one-line reason.
    static func ensure(_ choice: AllocatorChoice) {
        let loaded = ct_jemalloc_loaded() == 1
        switch choice {
        case .jemalloc where loaded: return
        case .system where !loaded: return
        default: break
        }
        if ProcessInfo.processInfo.environment[marker] != nil {
            fail("--allocator \(choice.rawValue): could not switch allocator (LD_PRELOAD is \(ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? "unset"))", code: 1)
        }
        var env = ProcessInfo.processInfo.environment
        env[marker] = "1"
        if choice == .jemalloc {
            guard let lib = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                fail("--allocator jemalloc: libjemalloc.so.2 not found; install it with 'apt-get install libjemalloc-dev' (or use --allocator system)", code: 1)
            }
            env["LD_PRELOAD"] = [lib, env["LD_PRELOAD"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        } else {
            env["LD_PRELOAD"] = (env["LD_PRELOAD"] ?? "").split(separator: ":").filter { !$0.contains("jemalloc") }.joined(separator: ":")
        }
        let argv = CommandLine.arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve("/proc/self/exe", cArgs, cEnv)
        fail("--allocator \(choice.rawValue): re-exec failed (errno \(errno))", code: 1)
    }
}
