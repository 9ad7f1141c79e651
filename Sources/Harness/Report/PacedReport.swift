/// What a paced run (`--rate`) measured: its rings, their drops and
/// queueing, and the longest time a worker left waiting packets unserved.
public struct PacedReport: Codable, Sendable, Equatable {
    /// Packets per second offered to the whole run, and to each worker's
    /// ring (the run's rate split evenly).
    public var offeredRate: Int
    public var perWorkerRate: Int
    /// Descriptors per worker's ring.
    public var ring: Int
    /// Packets that arrived (accepted or dropped), over every worker.
    public var arrived: Int
    /// Packets that found their ring full and were never processed.
    public var dropped: Int
    /// The most packets one ring held.
    public var highWater: Int
    /// Each worker's drops and high-water mark.
    public var perWorkerDropped: [Int]
    public var perWorkerHighWater: [Int]
    /// Time from a packet's arrival to the worker taking it out of the
    /// ring, over every packet taken, ns.
    public var queueingNanos: Distribution
    /// Seconds from the first arrival to the last packet processed, less
    /// the time workers spent generating packets (the arrival clock stops
    /// then: generation is the harness's work, not the table's).
    public var seconds: Double
    /// The packets processed per second over `seconds`.
    public var servedRate: Double
    /// The longest pause of any worker, and what it was.
    public var longestPause: Pause?
    /// How long the worker's time readings at batch boundaries cost per
    /// batch, ns (two clock reads and a thread CPU-time read), so the
    /// paced figures can be weighed against an unpaced run.
    public var boundaryCostNanos: Double?

    public struct Pause: Codable, Sendable, Equatable {
        /// `batch`: a batch took this long; `late wake-up`: the worker
        /// slept past the next packet's arrival.
        public var kind: String
        public var worker: Int
        /// When it began, seconds after the first arrival.
        public var atSeconds: Double
        public var nanos: Int64
        /// Packets in the batch (0 for a wake-up).
        public var packets: Int
        /// Lock waits inside the batch, ns.
        public var lockWaitNanos: Int64
        /// The worker thread's CPU time over the batch, ns.
        public var cpuNanos: Int64
        /// The reaper pass (numbered from 1) that ran during the batch.
        public var reaperPass: Int?
        /// The operation (`--op`, numbered from 1 as the report lists
        /// them) that ran during the batch.
        public var operation: Int?
        /// What the pause was, in words: the reading that explains most
        /// of it.
        public var cause: String
    }
}

extension PacedReport.Pause {
    /// Names the cause from what was measured over the pause: a worker
    /// that got under half a CPU was descheduled; lock waits that fill half
    /// of it are the cause (the reaper's, when a pass ran); a reaper pass
    /// that ran alongside is named next; otherwise it was the table's own
    /// work.
    static func cause(kind: String, nanos: Int64, packets: Int, lockWaitNanos: Int64, cpuNanos: Int64, reaperPass: Int?,
                      operation: Int? = nil) -> String {
        let ms = { (n: Int64) in ReportFormatter.f(Double(n) / 1e6, 3) + " ms" }
        if kind == "late wake-up" {
            return "the worker woke \(ms(nanos)) after the next packet arrived (it slept while its ring was empty; the scheduler ran it late)"
        }
        let pass = (operation.map { " while operation \($0) (--op) ran" } ?? "") + (reaperPass.map { " while reaper pass \($0) ran" } ?? "")
        if cpuNanos * 2 < nanos {
            return "the worker was descheduled: it got \(ms(cpuNanos)) of CPU in \(ms(nanos))\(pass)"
        }
        if lockWaitNanos * 2 >= nanos {
            return "lock waits: \(ms(lockWaitNanos)) of it\(pass)"
        }
        if let o = operation {
            return "operation \(o) (--op) ran alongside\(reaperPass.map { ", as did reaper pass \($0)" } ?? ""): the table's work on \(packets) packets took \(ms(cpuNanos)) of CPU (lock waits \(ms(lockWaitNanos)))"
        }
        if let p = reaperPass {
            return "reaper pass \(p) ran alongside: the table's work on \(packets) packets took \(ms(cpuNanos)) of CPU (lock waits \(ms(lockWaitNanos)))"
        }
        return "the table's own work on \(packets) packets: \(ms(cpuNanos)) of CPU (lock waits \(ms(lockWaitNanos)))"
    }
}
