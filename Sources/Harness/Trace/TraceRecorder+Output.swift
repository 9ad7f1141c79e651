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
    /// generator's epoch), `timeouts` are the table's (for the remaining
    /// timeout column, computed as `--dump` computes it).
    public func writeEvents(timeouts: Timeouts, epoch: Int64, _ emit: ([UInt8]) throws -> Void) throws {
        precondition(events, "events were not recorded")
        if let f = failure { throw TraceOutputError(f) }
        var readers = lanes.map { $0.pointee.eventReader() }
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
            out += Array(EventLine.text(heads[best]!, timeouts: timeouts, epoch: epoch).utf8)
            heads[best] = readers[best].next()
            if out.count >= Self.chunkBytes { try emit(out); out.removeAll(keepingCapacity: true) }
        }
        if let f = failure { throw TraceOutputError(f) }
        if !out.isEmpty { try emit(out) }
    }

    /// The events' order: (time, lane, packet position, sequence).
    static func precedes(_ a: ConnEvent, _ b: ConnEvent) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if a.lane != b.lane { return a.lane < b.lane }
        if a.index != b.index { return a.index < b.index }
        return a.seq < b.seq
    }
}

/// A trace that could not be read back (a spill file failed); the output
/// is not written.
public struct TraceOutputError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
