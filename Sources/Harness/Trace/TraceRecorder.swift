import ConnTrack
import Sync

/// The recording side of `run --verdicts` and `run --events`: one
/// `TraceLane` per worker and one for the reaper, handed to their
/// contexts (`WorkerContext.trace`) for one run, then merged into the two
/// outputs in a deterministic order. The lanes spill to unlinked
/// temporary files in `spillDirectory`, so memory stays bounded however
/// long the run.
///
/// Order. A lane records in its own input order, and its times never go
/// backwards (packets in timestamp order; the reaper's passes at their
/// due times). Verdict lines merge the workers' lanes by (packet
/// timestamp, worker, position in the worker's input): with one worker
/// (deterministic runs) that is the input order itself; with several, it
/// is the order `generate --streams` writes the same streams in, and the
/// capture's order except between packets of equal timestamp on two
/// workers. Events merge all lanes by (time, lane, packet position,
/// sequence), where a packet's events take the packet's timestamp (so a
/// lock-step run, whose table reads the window's start as "now", orders
/// and dates them as a run on one worker does) and the reaper's take their
/// pass's time; the reaper's lane goes first at equal times (its passes run
/// before the packets at their time).
public final class TraceRecorder: @unchecked Sendable {
    public let verdicts: Bool
    public let events: Bool
    public let spillDirectory: String
    /// Entries a lane buffers before it spills (tests make them small).
    public let verdictCapacity: Int
    public let eventCapacity: Int
    /// Set by `prepare`, read after the run: workers' lanes, then the reaper's.
    private(set) var lanes: [UnsafeMutablePointer<TraceLane>] = []

    public init(verdicts: Bool, events: Bool, spillDirectory: String,
                verdictCapacity: Int = 1 << 16, eventCapacity: Int = 1 << 12) {
        precondition(verdicts || events, "a trace records verdicts, events or both")
        self.verdicts = verdicts; self.events = events; self.spillDirectory = spillDirectory
        self.verdictCapacity = verdictCapacity; self.eventCapacity = eventCapacity
    }

    deinit { release() }

    private func release() {
        for l in lanes { l.pointee.deallocate(); l.deinitialize(count: 1); UnsafeMutableRawPointer(l).deallocate() }
        lanes = []
    }

    /// Fresh lanes for a run with `workers` workers (any earlier run's are
    /// dropped). Preconditions: no thread uses the old lanes.
    func prepare(workers: Int) {
        release()
        for w in -1..<workers {
            // Each lane on cache lines of its own: a worker writes its
            // lane's counters on every packet, and lanes side by side in
            // the heap would make the workers' writes share a line.
            let bytes = (MemoryLayout<TraceLane>.stride + Self.laneAlignment - 1) / Self.laneAlignment * Self.laneAlignment
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.laneAlignment)
                .bindMemory(to: TraceLane.self, capacity: 1)
            // A worker's lane keeps its verdicts also for --events alone:
            // they hold the packets' timestamps, which order the events.
            p.initialize(to: TraceLane(lane: Int32(w), verdicts: w >= 0, events: events,
                                       spill: TraceSpill(directory: spillDirectory),
                                       verdictCapacity: verdictCapacity, eventCapacity: eventCapacity))
            lanes.append(p)
        }
    }

    /// Lanes are aligned to (and padded to a multiple of) this: two cache
    /// lines, as the adjacent-line prefetcher pairs them.
    static let laneAlignment = 128

    /// Worker w's lane.
    func lane(_ w: Int) -> UnsafeMutablePointer<TraceLane>? { w + 1 < lanes.count ? lanes[w + 1] : nil }
    /// The reaper's lane.
    var reaperLane: UnsafeMutablePointer<TraceLane>? { lanes.first }

    /// Packets each worker's lane saw (one verdict call each).
    public var packetsPerWorker: [UInt64] { lanes.dropFirst().map { $0.pointee.index } }

    /// Set after the run when the design broke the reporting rules.
    public internal(set) var designError: String?

    /// Why the outputs cannot be written: the design broke the reporting
    /// rules, or a spill failed.
    public var failure: String? { designError ?? lanes.lazy.compactMap { $0.pointee.spill.failure }.first }

    /// Why the design's reports cannot be trusted, if they cannot:
    /// `processed[w]` packets went through worker w but its lane moved a
    /// different number of times.
    func check(processed: [Int], design: String) -> String? {
        for (w, n) in processed.enumerated() {
            guard let l = lane(w) else { continue }
            if l.pointee.index != UInt64(n) {
                return "design \(design) reported \(l.pointee.index) verdicts for the \(n) packets worker \(w) processed (one per packet is the rule: docs/adding-a-design.md#verdicts-and-events)"
            }
        }
        return nil
    }
}
