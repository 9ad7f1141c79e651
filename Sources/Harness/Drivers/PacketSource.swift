import ConnTrack
import FlowGen

/// Where one worker's packets come from: a generator stream, a capture
/// read as it is replayed, or a list (tests).
struct PacketSource {
    var gen: FlowGenerator?
    var capture: CaptureStream?
    var list: [Packet]?
    var pos = 0

    /// Fills `buf` from the front; returns the packets written (0: done).
    mutating func fill(_ buf: UnsafeMutableBufferPointer<Packet>) -> Int {
        if gen != nil { return gen!.fill(buf) }
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
        /// owned by one worker
        var source: PacketSource
        init(_ s: PacketSource) { source = s }
    }
    let cells: [Cell]
    init(_ s: [PacketSource]) { cells = s.map(Cell.init) }
    func fill(_ w: Int, _ buf: UnsafeMutableBufferPointer<Packet>) -> Int { cells[w].source.fill(buf) }
}
