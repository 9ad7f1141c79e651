#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import ConnTrack
import FlowGen
@testable import Harness
import TestSupport

/// The up-front memory estimate against what runs of the built
/// `conntrack-bench` reach. A run's peak RSS (its VmHWM) is its baseline
/// (code, libraries, thread stacks, the allocator's own: what the estimate
/// leaves out) plus its structures (what the estimate counts). The
/// baseline is measured as the peak of the same run with a 64-slot table,
/// so the check is `estimate(N) + peak(64) >= peak(N)`; the runs are small
/// in packets and flows, so the slot arrays dominate.
@Suite(.serialized, .enabled(if: RunProbe.binary != nil && !RunProbe.underThreadSanitizer,
                             "needs the conntrack-bench binary built beside the tests, without ThreadSanitizer (its shadow memory is no table's)"))
struct MemoryEstimateTests {
    static let sizes: [String: [Int]] = [
        "buckets": [1 << 16, 1 << 20, 1 << 22], "fast": [1 << 16, 1 << 20],
        "global-lock": [1 << 16, 1 << 22], "null": [1 << 16, 1 << 22],
    ]

    /// The options of every measured run, and the configuration the CLI
    /// builds from them.
    static func options(_ design: String, buckets: Int) -> [String] {
        ["run", "--design", design, "--buckets", "\(buckets)", "--packets", "20000", "--flows", "2000",
         "--duration", "10", "--chunk", "20000", "--deterministic", "--no-progress"]
    }

    static func config(_ design: String, buckets: Int) -> RunConfig {
        var c = RunConfig()
        c.design = design
        c.table.buckets = buckets
        c.scenario.packets = 20_000
        c.scenario.flows = 2000
        c.scenario.duration = 10 * Duration_ns.second
        c.chunk = 20_000
        c.threads = 1
        c.deterministic = true
        return c
    }

    @Test(arguments: ["buckets", "fast", "global-lock", "null"])
    func estimateCoversThePeakOverTheBaseline(_ design: String) throws {
        let base = try RunProbe.peak(Self.options(design, buckets: 64))
        for n in Self.sizes[design]! {
            let c = Self.config(design, buckets: n)
            try c.validate()
            let estimate = MemoryEstimate.bytes(c)
            let peak = try RunProbe.peak(Self.options(design, buckets: n))
            #expect(estimate + base >= peak, "\(design) --buckets \(n): estimate \(estimate) + baseline \(base) < peak \(peak)")
            RunProbe.log("\(design)\t\(n)\t\(base)\t\(estimate)\t\(peak)")
        }
    }

    /// A restored table: its records are decoded before the run and live
    /// beside the table it is loaded into.
    @Test func estimateCoversARestoredTable() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctb-estimate-\(getpid()).snap").path
        defer { unlink(path) }
        let n = 1 << 20
        _ = try RunProbe.peak(Self.options("buckets", buckets: n) + ["--save", path])
        let data = try #require(FileManager.default.contents(atPath: path))
        let snapshot = try TableSnapshot.decode(Array(data), name: path)
        #expect(snapshot.header.buckets == n && !snapshot.records.isEmpty)
        var c = Self.config("buckets", buckets: n)
        c.restore = snapshot
        c.table.hashSeed = snapshot.header.hashSeed
        try c.validate()
        let estimate = MemoryEstimate.bytes(c)
        let base = try RunProbe.peak(Self.options("buckets", buckets: 64))
        let peak = try RunProbe.peak(["run", "--restore", path, "--packets", "20000", "--flows", "2000", "--duration", "10",
                                      "--chunk", "20000", "--deterministic", "--no-progress"])
        #expect(estimate + base >= peak, "restored --buckets \(n): estimate \(estimate) + baseline \(base) < peak \(peak)")
        RunProbe.log("restored buckets\t\(n)\t\(base)\t\(estimate)\t\(peak)")
    }
}

/// The runs the estimate exists for: 2^28 buckets need more than 50 GiB,
/// so on a machine with less they are refused before anything is allocated,
/// from the options or from a saved table's header.
@Suite(.oneThread) struct MemoryEstimateRefusalTests {
    func largest() -> RunConfig {
        var c = RunConfig()
        c.table.buckets = 1 << 28
        return c
    }

    func fits(_ c: RunConfig) -> Bool { Double(MemoryEstimate.bytes(c)) <= 0.9 * Double(MemoryEstimate.limit().bytes) }

    @Test func theLargestTableIsRefusedUpFront() throws {
        let c = largest()
        #expect(MemoryEstimate.bytes(c) >= (1 << 28) * 200)
        if !fits(c) {
            let e = try #require(throws: ConfigError.self) { try c.validate() }
            #expect(e.description.contains("GiB") && !e.description.contains("\n"))
        }
    }

    @Test func aRestoredTableNamingTheLargestBucketCountIsRefused() throws {
        var c = largest()
        let header = SnapshotHeader(design: "buckets", variant: "seed2020", buckets: 1 << 28, hashSeed: 1,
                                    timeouts: Timeouts(), maxConnections: nil, connections: 0, clock: "virtual",
                                    clockEpochUnixNanos: 0, savedAt: 0, reaper: nil, counters: TableStats(),
                                    livePeak: 0, scenario: nil, streamPositions: nil)
        let file = try TableSnapshot(header: header, records: []).encoded()
        c.restore = try TableSnapshot.decode(file, name: "saved")
        c.table.hashSeed = 1
        #expect(MemoryEstimate.bytes(c) >= (1 << 28) * 200)
        if !fits(c) { #expect(throws: ConfigError.self) { try c.validate() } }
    }
}

/// Runs the built binary and reads its peak RSS.
enum RunProbe {
    /// `conntrack-bench` beside the test bundle (the same build).
    static let binary: String? = {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("conntrack-bench").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    static let underThreadSanitizer = builtWithThreadSanitizer

    struct Failed: Error, CustomStringConvertible { var description: String }

    // ptrace(2) is variadic in C, so Swift does not import it; glibc's
    // reads its four arguments as integers (x86-64 passes them in the same
    // registers either way).
    typealias Ptrace = @convention(c) (Int32, pid_t, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int
    static let ptrace: Ptrace? = dlsym(dlopen(nil, RTLD_NOW), "ptrace").map { unsafeBitCast($0, to: Ptrace.self) }
    static let seize: Int32 = 0x4206, cont: Int32 = 7, traceExit = 0x40, eventExit: Int32 = 6
    static let waitAll = Int32(bitPattern: 0x4000_0000)

    /// Runs the binary with `args` (output discarded) and returns the peak
    /// RSS of its own memory (VmHWM), read when it stops at its exit under
    /// ptrace. Not `wait4`'s `ru_maxrss`: exec keeps the high-water mark of
    /// the memory it replaces, which for a spawned child is this process's.
    /// A shell stops itself first, so the tracer is attached before the
    /// binary runs, and then execs it.
    static func peak(_ args: [String]) throws -> Int {
        let bin = try #require(binary)
        let trace = try #require(ptrace)
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = (["/bin/sh", "-c", "kill -STOP $$; exec \"$0\" \"$@\"", bin] + args)
            .map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &fa, nil, argv, environ)
        guard rc == 0 else { throw Failed(description: "posix_spawn: \(String(cString: strerror(rc)))") }
        guard trace(seize, pid, nil, UnsafeMutableRawPointer(bitPattern: traceExit)) == 0 else {
            let e = errno
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            throw Failed(description: "ptrace(PTRACE_SEIZE): \(String(cString: strerror(e)))")
        }
        kill(pid, SIGCONT)
        var hwm: Int? = nil
        var status: Int32 = 0
        while true {
            guard waitpid(pid, &status, waitAll) == pid else {
                if errno == EINTR { continue }
                throw Failed(description: "waitpid: \(String(cString: strerror(errno)))")
            }
            guard status & 0xff == 0x7f else { break }
            let signal = (status >> 8) & 0xff, event = status >> 16
            if event == eventExit { hwm = vmHWM(pid) }
            // Events and the shell's own stop are not delivered; any other
            // signal is.
            let deliver = event == 0 && signal != SIGSTOP && signal != SIGTRAP ? signal : 0
            _ = trace(cont, pid, nil, UnsafeMutableRawPointer(bitPattern: Int(deliver)))
        }
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw Failed(description: "\(args.joined(separator: " ")) ended with status \(status)")
        }
        return try #require(hwm, "no VmHWM read at the exit of \(args.joined(separator: " "))")
    }

    /// VmHWM of a live process, in bytes.
    static func vmHWM(_ pid: pid_t) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kb * 1024
    }

    /// Measurements, for a reader of the test log (CTB_ESTIMATE_LOG=1).
    static func log(_ line: String) {
        if ProcessInfo.processInfo.environment["CTB_ESTIMATE_LOG"] != nil { print("estimate\t" + line) }
    }
}
