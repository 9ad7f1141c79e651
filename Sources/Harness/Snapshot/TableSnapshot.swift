import ConnTrack
import FlowGen

/// A saved table: what the seed's `+stateify savable` keeps (every
/// connection with its tuples, direction, hook, NAT redirect, tracker
/// state and `lastUsed`), the reaper's position, interval and policy
/// state, and, so that a restored run can go on counting, the run's
/// counters and stream positions. The file format is in
/// `TableSnapshot+File.swift` and README ("Saving and restoring a table").
public struct TableSnapshot: Sendable {
    public var header: SnapshotHeader
    public var records: [ConnectionRecord]
    /// Where it was read from and the length of its JSON header (for the
    /// byte offsets of errors found after parsing); nil for a table saved
    /// in this process.
    public var file: (name: String, headerLength: Int)?
    /// Wall-clock time the save spent reading the table, or the load
    /// reading and checking the file (not stored).
    public var exportNanos: Int64 = 0
    public var loadNanos: Int64 = 0

    public init(header: SnapshotHeader, records: [ConnectionRecord]) {
        self.header = header; self.records = records
    }

    /// The same table on a clock whose 0 is `epoch` (Unix ns): every time
    /// it holds moves by the difference, so a restore into a capture's
    /// timeline keeps each connection's age.
    public func rebased(toEpoch epoch: Int64) -> TableSnapshot {
        let d = header.clockEpochUnixNanos &- epoch
        guard d != 0 else { return self }
        var s = self
        s.header.clockEpochUnixNanos = epoch
        s.header.savedAt &+= d
        if var r = s.header.reaper {
            r.nextDue &+= d
            s.header.reaper = r
        }
        for i in s.records.indices { s.records[i].lastUsed &+= d }
        return s
    }

    /// "FILE: what at byte offset N" for record i, as a parse error reads.
    public func describe(record i: Int, _ what: String) -> String {
        guard let f = file else { return "record \(i): \(what)" }
        return "\(f.name): record \(i): \(what) at byte offset \(Self.recordOffset(i, headerLength: f.headerLength))"
    }
}

/// The self-describing header (JSON in the file).
public struct SnapshotHeader: Sendable, Codable, Equatable {
    /// Registry name of the design, and its variant.
    public var design: String
    public var variant: String?
    /// Slots the design sweeps (buckets).
    public var buckets: Int
    public var hashSeed: UInt32?
    public var timeouts: Timeouts
    public var maxConnections: Int?
    /// Connection records in the body.
    public var connections: Int
    /// "virtual" or "real".
    public var clock: String
    /// Unix time (ns) of the run clock's 0: `lastUsed` is stored as Unix
    /// time, so a record reads `epoch + lastUsed`. For a virtual clock this
    /// is the virtual epoch (a scenario's nominal start, or a capture's
    /// first timestamp).
    public var clockEpochUnixNanos: Int64
    /// The run clock's time at the save.
    public var savedAt: Int64
    /// The reaper, stopped for the save (nil: the run had none).
    public var reaper: ReaperState?
    /// The workers' merged counters up to the save.
    public var counters: TableStats
    /// The most live connections seen up to the save.
    public var livePeak: Int64
    /// The scenario that fed the run and how many packets each stream had
    /// handed over (nil for a capture: its replay is not resumed).
    public var scenario: ScenarioOptions?
    public var streamPositions: [Int]?
}
