/// Open vSwitch's userspace conntrack sweeper (`clean_thread_main` and
/// `conntrack_clean` in lib/conntrack.c), in outline: a sweep walks the
/// expiry lists in passes; a pass stops after a share of the connection
/// limit (`limit / 64` entries in OVS 3.x) and the next pass resumes
/// `resumeDelay` later (OVS: 200 ms, `CT_CLEAN_MIN_INTERVAL`); once a sweep
/// reaches the end of the lists the next starts after `sweepInterval`
/// (OVS 3.x: `sweep_ms`, 20 s by default, settable with
/// `ovs-appctl dpctl/ct-set-sweep-interval`).
///
/// In slot terms: the `ovs` design has one sweep slot per place under its
/// connection limit (a position along its expiry lists), so `limit / 64`
/// entries is `tableSize / passDivisor` slots; a design reports the end of
/// its lists by a pass whose `nextStart` is a multiple of the table size.
/// On another design the same rule reads as "a pass covers 1/divisor of
/// the table, a sweep ends at its last slot".
public struct OVSReaperPolicy: ReaperPolicy, Equatable, Codable {
    /// Time between the end of a sweep and the next (OVS 3.x `sweep_ms`).
    public var sweepInterval: Int64 = 20 * Duration_ns.second
    /// Delay before the next pass while a sweep is unfinished.
    public var resumeDelay: Int64 = 200 * Duration_ns.millisecond
    /// A pass covers `tableSize / passDivisor` slots (OVS: 64).
    public var passDivisor: Int = 64

    public init(sweepInterval: Int64 = 20 * Duration_ns.second, resumeDelay: Int64 = 200 * Duration_ns.millisecond,
                passDivisor: Int = 64) {
        self.sweepInterval = sweepInterval; self.resumeDelay = resumeDelay; self.passDivisor = passDivisor
    }

    public func initialPrevious(startDelay: Int64) -> Int64 { sweepInterval }

    public func plan(tableSize: Int) -> (maxSlots: Int, maxEvictions: Int) {
        (max(1, tableSize / max(1, passDivisor)), .max)
    }

    public mutating func next(after r: ReapPassResult, previous: Int64, tableSize: Int) -> Int64 {
        let ended = tableSize <= 0 || r.nextStart % tableSize == 0
        return ended ? sweepInterval : resumeDelay
    }
}

extension OVSReaperPolicy {
    public static let knobs: [Knob<OVSReaperPolicy>] = [
        Knob("ovs-sweep-ms", summary: "time between the end of a sweep and the next, ms (OVS sweep_ms)",
             range: 1...3_600_000, grid: [1000, 5000, 20000],
             get: { Int($0.sweepInterval / Duration_ns.millisecond) },
             set: { $0.sweepInterval = Int64($1) * Duration_ns.millisecond }),
        Knob("ovs-pass-divisor", summary: "a pass covers 1/divisor of the slots (OVS: limit/64 entries)",
             range: 1...65536, grid: [16, 64, 256], get: { $0.passDivisor }, set: { $0.passDivisor = $1 }),
        Knob("ovs-resume-ms", summary: "delay before the next pass of an unfinished sweep, ms (OVS: 200)",
             range: 0...60_000, grid: [50, 200, 1000],
             get: { Int($0.resumeDelay / Duration_ns.millisecond) },
             set: { $0.resumeDelay = Int64($1) * Duration_ns.millisecond }),
    ]
}
