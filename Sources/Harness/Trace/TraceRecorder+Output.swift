import ConnTrack

// Writing a run's trace: the lanes merged in their order and formatted, a
// chunk at a time, so the output never needs to be in memory whole.
extension TraceRecorder {
    /// Bytes handed to `emit` at a time.
    static let chunkBytes = 1 << 16

    /// The verdict lines, `N: flags` (OVS's `test-conntrack pcap` form),
    /// N counting from 1 in merged order.
    public func writeVerdicts(_ emit: ([UInt8]) throws -> Void) throws {
        precondition(verdicts, "verdicts were not recorded")
        if let f = failure { throw TraceOutputError(f) }
        var readers = lanes.dropFirst().map { $0.pointee.verdictReader() }
        defer { for r in readers { r.deallocate() } }
        var heads = readers.indices.map { readers[$0].next() }
        var out: [UInt8] = []
        out.reserveCapacity(Self.chunkBytes + 64)
        var n: UInt64 = 0
        while true {
            // The head with the lowest (timestamp, lane); few lanes, so a scan.
            var best = -1
            for k in heads.indices {
                guard let h = heads[k] else { continue }
                if best < 0 || h.timestamp < heads[best]!.timestamp { best = k }
            }
            guard best >= 0 else { break }
            n += 1
            out += Array(String(n).utf8)
            out += [0x3a, 0x20]
            out += Array(heads[best]!.verdict.text.utf8)
            out.append(0x0a)
            heads[best] = readers[best].next()
            if out.count >= Self.chunkBytes { try emit(out); out.removeAll(keepingCapacity: true) }
        }
        if let f = failure { throw TraceOutputError(f) }
        if !out.isEmpty { try emit(out) }
    }

    /// The event lines in `conntrack -E -o timestamp` form. `epoch` is
    /// added to the run's clock (virtual time: the capture's or the
    /// generator's epoch).
    public func writeEvents(epoch: Int64, _ emit: ([UInt8]) throws -> Void) throws {
        precondition(events, "events were not recorded")
        if let f = failure { throw TraceOutputError(f) }
        var readers = lanes.map { LaneEvents($0.pointee) }
        defer { for r in readers { r.deallocate() } }
        var heads = readers.indices.map { readers[$0].next() }
        var out: [UInt8] = []
        out.reserveCapacity(Self.chunkBytes + 512)
        while true {
            var best = -1
            for k in heads.indices {
                guard let h = heads[k] else { continue }
                if best < 0 || Self.precedes(h, heads[best]!) { best = k }
            }
            guard best >= 0 else { break }
            let (at, e) = heads[best]!
            out += Array(EventLine.text(e, at: at, epoch: epoch).utf8)
            heads[best] = readers[best].next()
            if out.count >= Self.chunkBytes { try emit(out); out.removeAll(keepingCapacity: true) }
        }
        if let f = failure { throw TraceOutputError(f) }
        if !out.isEmpty { try emit(out) }
    }

    /// The events' order: (time, lane, packet position, sequence), with a
    /// packet's events at the packet's timestamp.
    static func precedes(_ a: (Int64, ConnEvent), _ b: (Int64, ConnEvent)) -> Bool {
        if a.0 != b.0 { return a.0 < b.0 }
        if a.1.lane != b.1.lane { return a.1.lane < b.1.lane }
        if a.1.index != b.1.index { return a.1.index < b.1.index }
        return a.1.seq < b.1.seq
    }
}

/// One lane's events, each with the time it is ordered and dated by: the
/// timestamp of the packet it belongs to (read from the lane's verdicts,
/// in step), or for the reaper's lane the pass's time.
struct LaneEvents {
    var events: TraceReader<ConnEvent>
    var verdicts: TraceReader<VerdictEntry>?
    var last: VerdictEntry?

    init(_ lane: TraceLane) {
        events = lane.eventReader()
        verdicts = lane.lane >= 0 ? lane.verdictReader() : nil
    }

    func deallocate() {
        events.deallocate()
        verdicts?.deallocate()
    }

    mutating func next() -> (Int64, ConnEvent)? {
        guard let e = events.next() else { return nil }
        guard verdicts != nil else { return (e.time, e) }
        // Verdict k is packet k's: read up to the event's packet.
        while verdicts!.position <= Int(e.index), let v = verdicts!.next() { last = v }
        // An event after the lane's last verdict (a run stopped mid-packet)
        // keeps the table's time.
        return (verdicts!.position == Int(e.index) + 1 ? last?.timestamp ?? e.time : e.time, e)
    }
}

/// A trace that could not be read back (a spill file failed); the output
/// is not written.
public struct TraceOutputError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
