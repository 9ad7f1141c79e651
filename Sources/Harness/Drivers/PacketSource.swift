import ConnTrack
import FlowGen

/// Where one worker's packets come from: a generator stream, a workload's
/// stream, a capture read as it is replayed, or a list (tests).
struct PacketSource {
    var gen: FlowGenerator?
    var workload: WorkloadGenerator?
    var capture: CaptureStream?
    var list: [Packet]?
    var pos = 0

    /// Fills `buf` from the front; returns the packets written (0: done).
    mutating func fill(_ buf: UnsafeMutableBufferPointer<Packet>) -> Int {
        if gen != nil { return gen!.fill(buf) }
        if workload != nil { return workload!.fill(buf) }
        if capture != nil { return capture!.fill(buf) }
        let n = min(buf.count, list!.count - pos)
        for k in 0..<n { buf[k] = list![pos + k] }
        pos += n
        return n
    }
}

/// Per-worker sources; each worker touches only its own cell.
final class SourceBox: @unchecked Sendable {
    final class Cell: @unchecked Sendable {
        /// owned by one worker; with a prefetcher, the source as it was
        /// handed over (the producer advances its own copy)
        var source: PacketSource
        let prefetcher: Prefetcher?
        init(_ s: PacketSource, prefetch: Bool) {
            source = s
            prefetcher = prefetch ? Prefetcher(s) : nil
        }
    }
    let cells: [Cell]
    /// With `prefetch`, generator sources (scenarios and workloads) are
    /// filled ahead on threads of their own (`Prefetcher`); captures and
    /// lists are not.
    init(_ s: [PacketSource], prefetch: Bool = false) {
        cells = s.map { Cell($0, prefetch: prefetch && ($0.gen != nil || $0.workload != nil)) }
    }
    // A run that ends early (an error before its drive) still stops and
    // joins its producers here, not from their own threads.
    deinit { _ = finish() }
    var prefetching: Bool { cells.contains { $0.prefetcher != nil } }
    func fill(_ w: Int, _ buf: UnsafeMutableBufferPointer<Packet>) -> Int {
        let c = cells[w]
        if let p = c.prefetcher { return p.fill(buf) }
        return c.source.fill(buf)
    }
    /// Stops the producers; returns the longest time one spent generating.
    func finish() -> Int64 {
        cells.compactMap(\.prefetcher).map { $0.stop(); return $0.producerNanos }.max() ?? 0
    }
}
