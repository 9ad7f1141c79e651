import ConnTrack

/// A capture file checked once from end to end, then replayed: its records
/// are decoded once, a chunk at a time, and each worker takes its packets
/// from the shared chunks (`CaptureReplay`), so a run holds a few chunks in
/// memory, not the file, and a capture of any size replays.
///
/// The check decodes every record (the statistics and every structural
/// error come before the run starts) and notes whether the file is in
/// timestamp order. Replay promises timestamp order with ties in file order;
/// for a file that is not in that order, a second scan keeps an index of
/// its packets (24 bytes each) sorted by timestamp, stably, and the replay
/// reads the packets through it.
///
/// The file is read with large `pread`s into a buffer (`FileWindow`), not
/// mapped: a file cut short during the run then ends the replay with a
/// warning instead of a SIGBUS.
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
    /// The file was cut short inside a record and only the whole records
    /// before it are replayed (`allowTruncated`): what was cut, and where.
    public let truncation: PcapError?
    /// Shared by the readers (`pread` keeps no file position).
    let file: FileSource
    /// Where the replay stops: the file's size, or where it was cut.
    let end: Int
    /// A cursor at the first record (the header was read by the check).
    let start: CaptureCursor<FileWindow>
    /// The packets in timestamp order, when the file's order is not that.
    let index: [Entry]?

    /// Checks the capture at `path`. Throws with the byte offset of the
    /// first structural error; a file cut short inside a record is an error
    /// too, unless `allowTruncated`: then the whole records before the cut
    /// are replayed and `truncation` says where it is.
    public init(path: String, allowTruncated: Bool = false) throws(PcapError) {
        self.path = path
        let file = try FileSource(path: path)
        self.file = file
        var stats = PcapStats()
        // The header alone: a small buffer (this cursor is kept as the
        // replay's starting place).
        start = try CaptureCursor(FileWindow(file, size: file.size, bytes: 0), name: path)
        var c = CaptureCursor(at: start, source: FileWindow(file, size: file.size))
        var first: Int64? = nil, later = Int64.min
        var flows = FlowCount()
        do throws(PcapError) {
            while let r = try c.next(&stats) {
                guard let p = PcapReader.count(PcapReader.frame(r.data, link: r.link, ts: r.timestamp), &stats) else { continue }
                flows.add(p.id)
                first = min(first ?? p.timestamp, p.timestamp)
                PcapReader.countOrder(p.timestamp, after: &later, &stats)
            }
            end = file.size
            truncation = nil
        } catch {
            guard allowTruncated, error.cut, let at = error.offset else { throw error }
            end = at
            truncation = error
        }
        stats.flows = flows.estimate
        self.stats = stats
        firstTimestamp = first
        guard stats.outOfOrder > 0 else { index = nil; return }
        var entries: [Entry] = []
        entries.reserveCapacity(stats.used)
        var c2 = CaptureCursor(at: start, source: FileWindow(file, size: end))
        var ignored = PcapStats()
        while let r = try c2.next(&ignored) {
            guard case .packet = PcapReader.frame(r.data, link: r.link, ts: r.timestamp) else { continue }
            entries.append(Entry(timestamp: r.timestamp, dataOffset: Int64(r.dataOffset), length: Int32(r.length), link: r.link))
        }
        index = PcapReader.stableSorted(entries, by: \.timestamp)
    }

    /// Bytes the replay keeps in memory besides its chunks.
    public var indexBytes: Int { (index?.count ?? 0) * MemoryLayout<Entry>.stride }

    /// The one-line warning for a capture replayed up to where it was cut.
    public var truncationWarning: String? {
        truncation.map { t in
            "--pcap \(path): cut short at byte offset \(t.offset ?? end), \(t.what); replaying the \(stats.records) whole records before it"
        }
    }

    /// One stream per worker of `n` sharing one decoding of the file: the
    /// packets of worker `w` are those `PcapReader.shard` gives it (a
    /// flow's two directions go to one worker), in timestamp order,
    /// timestamps less `rebase`.
    public func streams(workers n: Int, rebase: Int64) -> [CaptureStream] {
        let replay = CaptureReplay(self, workers: n, rebase: rebase)
        return (0..<n).map { CaptureStream(replay: replay, worker: $0) }
    }

    /// The packets of worker `w` of `n` alone (the others' are decoded and
    /// dropped); a run takes `streams(workers:rebase:)`.
    public func stream(worker w: Int, of n: Int, rebase: Int64) -> CaptureStream {
        CaptureStream(replay: CaptureReplay(self, workers: n, rebase: rebase), worker: w)
    }
}

/// One worker's packets of a `Capture`, taken from the replay's shared
/// chunks as they are needed; owned by that worker.
public struct CaptureStream {
    let replay: CaptureReplay
    let worker: Int

    /// The file changed after it was checked: the replay ended early there.
    public var failure: PcapError? { replay.failure }

    /// The next packet of this worker, nil at the end.
    mutating func next() -> Packet? {
        var p = Packet(id: TupleID(srcAddr: IPAddress(hi: 0, lo: 0), srcPort: 0, dstAddr: IPAddress(hi: 0, lo: 0), dstPort: 0,
                                   transProto: .tcp, netProto: .ipv4), hook: .output)
        return withUnsafeMutablePointer(to: &p) { fill(UnsafeMutableBufferPointer(start: $0, count: 1)) } == 1 ? p : nil
    }

    /// Fills `out` from the front; returns the packets written (0: the end).
    /// Fewer than `out.count` when the others' packets would pile up: a
    /// worker far ahead of the others gets what is decoded so far.
    public mutating func fill(_ out: UnsafeMutableBufferPointer<Packet>) -> Int {
        replay.fill(worker, out)
    }
}
