#if canImport(Glibc)
import Glibc
#endif
import ConnTrack
import FlowGen
import Histogram

/// What a run will need, and what the machine allows, so a run that cannot
/// fit is refused up front with both numbers instead of being ended by the
/// allocator or the OOM killer halfway.
public enum MemoryEstimate {
    /// The most the run's structures keep resident at once, counted as an
    /// upper bound: the table's (`ConnTrackTable.estimatedBytes`, for a
    /// connection per concurrent flow plus the restored ones) and the
    /// harness's own (`harnessBytes`). Not counted: the process's baseline
    /// (code, libraries, thread stacks, the allocator's own), and
    /// connections beyond that count (flows that ended but were not reaped
    /// yet).
    public static func bytes(_ c: RunConfig) -> Int {
        guard let d = c.designType else { return 0 }
        let threads = c.deterministic ? 1 : c.threads
        let restored = c.restore?.records.count ?? 0
        let table = d.estimatedBytes(c.tableForRun, connections: connections(c), threads: threads)
        let (sum, overflow) = table.addingReportingOverflow(harnessBytes(c, restored: restored))
        return overflow ? Int.max : sum
    }

    /// Connections the estimate counts: one per concurrent flow (no more
    /// than packets), and every restored one.
    public static func connections(_ c: RunConfig) -> Int {
        if case .workload(let w, _) = c.source {
            return w.expectedPeakConnections(linger: c.table.timeouts.longestUnestablished)
        }
        return min(c.scenario.flows, c.scenario.packets) + (c.restore?.records.count ?? 0)
    }

    /// The harness's per-run structures: per worker its packet buffer,
    /// latency samples, latency histogram and counters, and a producer's
    /// buffers when generation may overlap; the generators' flow slots; the reaper's pass history and what the report and its
    /// JSON make of it; a restored table's file (read, copied for parsing
    /// and for its checksum) and its records (decoded, and moved to the
    /// run's clock); a saved or listed table's records and file bytes.
    public static func harnessBytes(_ c: RunConfig, restored: Int) -> Int {
        typealias F = MemoryFootprint
        let threads = c.deterministic ? 1 : c.threads
        let streamsFlows = c.scenario.shared ? c.scenario.flows * threads : c.scenario.flows
        let histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var perWorker = F.heapBlock(c.chunk * MemoryLayout<Packet>.stride)
        // Overlapped generation: the producer's ring of buffers (bounded
        // above whether or not the run gets one).
        if c.overlapGeneration {
            perWorker += Prefetcher.depth * F.heapBlock(Prefetcher.bufferPackets * MemoryLayout<Packet>.stride)
        }
        perWorker += F.heapBlock((c.batch / c.latencySampleEvery + 2) * MemoryLayout<UInt64>.stride)
        // The latency histogram, and the one a workload's samples take.
        perWorker += 2 * histogram.estimatedFootprintInBytes + MemoryLayout<WorkerContext>.stride
        var bytes = threads * perWorker + histogram.estimatedFootprintInBytes
        if case .workload(let w, _) = c.source {
            // Each stream's flows alive at once, and its timing wheel.
            bytes += w.expectedConcurrentFlows * WorkloadGenerator.bytesPerFlow + threads * WorkloadGenerator.wheelBytes
        } else {
            bytes += streamsFlows * FlowGenerator.bytesPerFlow
        }
        // The runner keeps the reaper's default history of 100,000 passes:
        // each record, its interval and pause as doubles (one list sorted),
        // and about 32 bytes of report JSON each.
        let history = 100_000
        bytes += F.grownArray(history, stride: MemoryLayout<ReaperPassRecord>.stride) + 3 * F.array(history, stride: 8) + 32 * history
        let record = MemoryLayout<ConnectionRecord>.stride
        if let r = c.restore {
            let file = TableSnapshot.recordOffset(restored, headerLength: r.file?.headerLength ?? 0) + 4
            bytes += 3 * F.heapBlock(file) + 2 * F.array(restored, stride: record)
        }
        if c.saveAt != nil || c.saveAtEnd {
            let n = connections(c)
            // The header holds the history as JSON (under 256 bytes a pass),
            // encoded and then copied into the file's bytes.
            let header = 2 * 256 * history
            bytes += F.grownArray(n, stride: record) + F.heapBlock(TableSnapshot.recordOffset(n, headerLength: header) + 4)
        }
        return bytes
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
            let flows = if case .workload(let w, _) = c.source { "--workload \(w.name)" } else { "--flows \(c.scenario.flows)" }
            throw ConfigError("the run needs at least \(gib(need)) (--buckets \(c.table.buckets), \(flows), --chunk \(c.chunk) × \(c.deterministic ? 1 : c.threads) worker(s)); the limit is \(gib(lim)) (\(source)): lower them")
        }
    }
}
