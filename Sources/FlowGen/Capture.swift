import ConnTrack

/// A capture file checked once from end to end, then replayed as streams:
/// a run holds one record per worker in memory, not the file, so a capture
/// of any size replays.
///
/// The check decodes every record (the statistics and every structural
/// error come before the run starts) and notes whether the file is in
/// timestamp order. Replay promises timestamp order with ties in file order;
/// for a file that is not in that order, a second scan keeps an index of
/// its packets (24 bytes each) sorted by timestamp, stably, and the streams
/// read the packets through it.
public final class Capture: @unchecked Sendable {
    /// Where a packet's bytes are, for an index in timestamp order.
    struct Entry {
        var timestamp: Int64
        var dataOffset: Int64
        var length: Int32
        var link: UInt32
    }

    public let path: String
    /// What the records became.
    public let stats: PcapStats
    /// The earliest packet timestamp (nil: no packet).
    public let firstTimestamp: Int64?
    /// Shared by the streams (`pread` keeps no file position).
    let file: FileSource
    /// The packets in timestamp order, when the file's order is not that.
    let index: [Entry]?

    /// Checks the capture at `path`. Throws with the byte offset of the
    /// first structural error.
    public init(path: String) throws(PcapError) {
        self.path = path
        file = try FileSource(path: path)
        var stats = PcapStats()
        var c = try CaptureCursor(file, name: path)
        var first: Int64? = nil, later = Int64.min
        while let r = try c.next(&stats) {
            guard let p = PcapReader.count(PcapReader.frame(c.buf, 0, r.length, link: r.link, ts: r.timestamp), &stats) else { continue }
            first = min(first ?? p.timestamp, p.timestamp)
            PcapReader.countOrder(p.timestamp, after: &later, &stats)
        }
        self.stats = stats
        firstTimestamp = first
        guard stats.outOfOrder > 0 else { index = nil; return }
        var entries: [Entry] = []
        entries.reserveCapacity(stats.used)
        var c2 = try CaptureCursor(file, name: path)
        var ignored = PcapStats()
        while let r = try c2.next(&ignored) {
            guard case .packet = PcapReader.frame(c2.buf, 0, r.length, link: r.link, ts: r.timestamp) else { continue }
            entries.append(Entry(timestamp: r.timestamp, dataOffset: Int64(r.dataOffset), length: Int32(r.length), link: r.link))
        }
        index = PcapReader.stableSorted(entries, by: \.timestamp)
    }

    /// Bytes the replay keeps in memory besides one record per stream.
    public var indexBytes: Int { (index?.count ?? 0) * MemoryLayout<Entry>.stride }

    /// The packets of worker `w` of `n` (a flow's two directions go to one
    /// worker, `PcapReader.shard`), timestamps less `rebase`.
    public func stream(worker w: Int, of n: Int, rebase: Int64) -> CaptureStream {
        CaptureStream(capture: self, worker: w, workers: n, rebase: rebase)
    }
}

/// One worker's packets of a `Capture`, read as they are needed.
public struct CaptureStream {
    let capture: Capture
    let worker: Int
    let workers: Int
    let rebase: Int64
    /// Reads the file in order (no index).
    var cursor: CaptureCursor<FileSource>?
    /// Position in the capture's index (when it has one).
    var position = 0
    var buf: [UInt8] = []
    /// The file changed after it was checked: the stream ended early there.
    public private(set) var failure: PcapError?

    init(capture: Capture, worker: Int, workers: Int, rebase: Int64) {
        self.capture = capture; self.worker = worker; self.workers = workers; self.rebase = rebase
        if capture.index == nil {
            cursor = try? CaptureCursor(capture.file, name: capture.path)
            if cursor == nil { failure = PcapError(description: "--pcap \(capture.path): the file changed after it was checked") }
        }
    }

    /// The next packet of this worker, nil at the end.
    mutating func next() -> Packet? {
        while true {
            let decoded: PcapReader.Decoded
            if let index = capture.index {
                guard position < index.count else { return nil }
                let e = index[position]
                position += 1
                guard capture.file.read(at: Int(e.dataOffset), count: Int(e.length), into: &buf) else {
                    failure = PcapError(description: "--pcap \(capture.path): the file changed after it was checked at byte offset \(e.dataOffset)")
                    return nil
                }
                decoded = PcapReader.frame(buf, 0, Int(e.length), link: e.link, ts: e.timestamp)
            } else {
                guard cursor != nil else { return nil }
                var ignored = PcapStats()
                let r: CaptureRecord?
                do throws(PcapError) { r = try cursor!.next(&ignored) } catch {
                    failure = error
                    cursor = nil
                    return nil
                }
                guard let r else { return nil }
                decoded = PcapReader.frame(cursor!.buf, 0, r.length, link: r.link, ts: r.timestamp)
            }
            guard case .packet(var p) = decoded else { continue }
            guard workers == 1 || PcapReader.shard(p, workers) == worker else { continue }
            p.timestamp -= rebase
            return p
        }
    }

    /// Fills `buf` from the front; returns the packets written (0: the end).
    public mutating func fill(_ out: UnsafeMutableBufferPointer<Packet>) -> Int {
        var n = 0
        while n < out.count, let p = next() { out[n] = p; n += 1 }
        return n
    }
}
