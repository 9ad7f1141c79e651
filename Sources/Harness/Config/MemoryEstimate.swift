#if canImport(Glibc)
import Glibc
#endif
import ConnTrack
import FlowGen

/// What a run will need at least, and what the machine allows, so a run
/// that cannot fit is refused up front with both numbers instead of
/// aborting in the allocator halfway.
public enum MemoryEstimate {
    /// A lower bound of the run's heap: the table's slots, one connection
    /// per concurrent flow, the generators' flow slots, and each worker's
    /// packet buffer.
    public static func bytes(_ c: RunConfig) -> Int {
        guard let d = c.designType else { return 0 }
        let t = d.traits
        let threads = c.deterministic ? 1 : c.threads
        let streamsFlows = c.scenario.shared ? c.scenario.flows * threads : c.scenario.flows
        var n = 0.0
        n += Double(t.sizedByBuckets ? c.table.buckets : 0) * Double(t.bytesPerSlot)
        n += Double(min(c.scenario.flows, c.scenario.packets)) * Double(t.bytesPerConnection)
        n += Double(streamsFlows) * Double(FlowGenerator.bytesPerFlow)
        n += Double(threads) * Double(c.chunk) * Double(MemoryLayout<Packet>.stride)
        return n >= Double(Int.max) ? Int.max : Int(n)
    }

    /// The memory this process may use: the smallest of physical memory,
    /// the address-space limit and the cgroup's memory.max.
    public static func limit() -> (bytes: Int, source: String) {
        var best = (bytes: Int(sysconf(Int32(_SC_PHYS_PAGES))) &* Int(sysconf(Int32(_SC_PAGESIZE))), source: "physical memory")
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max, Int(clamping: rl.rlim_cur) < best.bytes {
            best = (Int(clamping: rl.rlim_cur), "the address-space limit (ulimit -v)")
        }
        if let f = fopen("/sys/fs/cgroup/memory.max", "r") {
            defer { fclose(f) }
            var buf = [CChar](repeating: 0, count: 64)
            if fgets(&buf, 64, f) != nil,
               let v = Int(String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)),
               v < best.bytes {
                best = (v, "the cgroup's memory.max")
            }
        }
        return best
    }

    static func gib(_ b: Int) -> String { ReportFormatter.f(Double(b) / 1_073_741_824, 1) + " GiB" }

    /// Refuses a configuration whose estimate exceeds 90 % of the limit.
    static func check(_ c: RunConfig) throws(ConfigError) {
        let need = bytes(c)
        let (lim, source) = limit()
        guard Double(need) <= 0.9 * Double(lim) else {
            throw ConfigError("the run needs at least \(gib(need)) (--buckets \(c.table.buckets), --flows \(c.scenario.flows), --chunk \(c.chunk) × \(c.deterministic ? 1 : c.threads) worker(s)); the limit is \(gib(lim)) (\(source)): lower them")
        }
    }
}
