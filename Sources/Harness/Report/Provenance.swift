#if canImport(Glibc)
import Glibc
#endif
import BuildInfo

/// Where a report came from, as package-benchmark and hyperfine record
/// theirs: the build (version, commit, configuration, allocator), the
/// command line, when, and the host. `diff` says when two reports differ
/// in host or build, so a change of machine is not read as a change of code.
public struct Provenance: Codable, Sendable, Equatable {
    public struct Host: Codable, Sendable, Equatable {
        public var hostname: String
        /// /proc/cpuinfo's model name (nil: not known here).
        public var cpuModel: String?
        /// CPUs online.
        public var cpus: Int
        public var memoryBytes: Int
        /// uname: system and release, e.g. "Linux 6.18.44".
        public var kernel: String
    }
    public var tool: String
    public var version: String
    /// The commit the build was made from ("+modified": tracked files
    /// differed from it); nil when the build could not know it.
    public var commit: String?
    /// "release" or "debug".
    public var build: String
    /// "jemalloc" or "glibc".
    public var allocator: String
    public var commandLine: [String]
    /// When the run started, ISO 8601 UTC.
    public var date: String
    public var host: Host

    /// This process's.
    static func current(allocator: String, startedAt: time_t) -> Provenance {
        Provenance(tool: BuildInfo.tool, version: BuildInfo.version, commit: BuildInfo.commit,
                   build: BuildInfo.configuration, allocator: allocator, commandLine: CommandLine.arguments,
                   date: isoDate(startedAt), host: .current())
    }

    /// The command line as a shell would take it back.
    public var commandText: String {
        commandLine.enumerated().map { i, a in
            let word = i == 0 ? (a.split(separator: "/").last.map(String.init) ?? a) : a
            let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
            return plain ? word : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// One line for the text report's header.
    public var summary: String {
        "\(tool) \(version) (commit \(commit ?? "unknown")), \(build) build, \(allocator); "
            + "\(host.hostname): \(host.cpuModel ?? "CPU unknown"), \(host.cpus) CPUs, "
            + ReportFormatter.f(Double(host.memoryBytes) / Double(1 << 30), 1) + " GiB, \(host.kernel); \(date)"
    }

    /// What differs between the hosts or the builds of two reports (empty:
    /// nothing).
    public func differences(from o: Provenance) -> (host: [String], build: [String]) {
        var host: [String] = [], build: [String] = []
        func note(_ into: inout [String], _ what: String, _ a: String, _ b: String) {
            if a != b { into.append("\(what) \(a) -> \(b)") }
        }
        note(&host, "host", o.host.hostname, self.host.hostname)
        note(&host, "CPU", o.host.cpuModel ?? "unknown", self.host.cpuModel ?? "unknown")
        note(&host, "CPUs", String(o.host.cpus), String(self.host.cpus))
        note(&host, "memory", String(o.host.memoryBytes >> 20) + " MiB", String(self.host.memoryBytes >> 20) + " MiB")
        note(&host, "kernel", o.host.kernel, self.host.kernel)
        note(&build, "version", o.version, version)
        note(&build, "commit", o.commit ?? "unknown", commit ?? "unknown")
        note(&build, "build", o.build, self.build)
        note(&build, "allocator", o.allocator, allocator)
        return (host, build)
    }
}

extension Provenance.Host {
    static func current() -> Provenance.Host {
        var name = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        var u = utsname()
        var kernel = "unknown"
        if uname(&u) == 0 {
            func field<T>(_ t: T) -> String {
                withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            }
            kernel = field(u.sysname) + " " + field(u.release)
        }
        let model = readProcFile("/proc/cpuinfo", limit: 8192)?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { String($0.drop { $0 == " " || $0 == "\t" }) }
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES))), pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        return Provenance.Host(hostname: hostname, cpuModel: model, cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                               memoryBytes: max(0, pages) * max(0, pageSize), kernel: kernel)
    }
}

/// `t` as ISO 8601 UTC, to the second.
func isoDate(_ t: time_t) -> String {
    var t = t
    var tm = Glibc.tm()
    guard gmtime_r(&t, &tm) != nil else { return "unknown" }
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
}
