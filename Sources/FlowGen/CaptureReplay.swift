import ConnTrack
import Sync

/// One decoding of a capture shared by the workers of a run.
///
/// The records are decoded in chunks of `perChunk` records (or index
/// entries), each chunk's packets grouped by worker (`PcapReader.shard`).
/// Whichever worker runs out of packets decodes the next chunk, under the
/// replay's mutex; the others copy their part of chunks already decoded. A
/// chunk is retired when every worker has moved past it, so at most `hard`
/// chunks are held, whatever the file's size.
///
/// Workers are never made to wait for one another (a driver may hold one
/// at a barrier while another fills): a worker that would put more than
/// `soft` chunks between itself and the slowest worker stops filling with
/// what it has; one that has nothing yet may go up to `hard`; one that
/// still has nothing then decodes the next chunk on its own, keeping only
/// its packets (that chunk is decoded again for the others when they get
/// there), and goes on so until the shared chunks reach it.
///
/// Chunk c is the same records whoever decodes it (the `perChunk` records
/// after chunk c - 1), so a worker's packets come in file order, or index
/// order, whichever way each chunk reached it.
final class CaptureReplay: @unchecked Sendable {
    /// One decoded chunk: the packets of worker w are
    /// `packets[starts[w]..<starts[w + 1]]`.
    final class Chunk {
        let packets: UnsafeMutableBufferPointer<Packet>
        var starts: [Int]
        init(capacity: Int, workers: Int) {
            packets = .allocate(capacity: capacity)
            starts = [Int](repeating: 0, count: workers + 1)
        }
        deinit { packets.deallocate() }
        func part(_ w: Int) -> UnsafeBufferPointer<Packet> {
            UnsafeBufferPointer(rebasing: packets[starts[w]..<starts[w + 1]])
        }
    }

    /// Where the next chunk's records are: a cursor in file order, or a
    /// position in the capture's sorted index.
    struct Decoder {
        var cursor: CaptureCursor<FileWindow>?
        var window: FileWindow?
        var position = 0

        enum Outcome { case more, end, failed(PcapError) }

        init(_ capture: Capture) {
            if capture.index != nil {
                window = FileWindow(capture.file, size: capture.end, random: true)
            } else {
                cursor = CaptureCursor(at: capture.start, source: FileWindow(capture.file, size: capture.end))
            }
        }

        /// A decoder at the same place with a reader of its own.
        init(at other: Decoder, _ capture: Capture) {
            position = other.position
            if let c = other.cursor {
                cursor = CaptureCursor(at: c, source: FileWindow(capture.file, size: capture.end))
            } else {
                window = FileWindow(capture.file, size: capture.end, random: true)
            }
        }

        /// Decodes the next `records` records, handing each packet to
        /// `emit`. `.end`: the file ended within them.
        @inline(__always)
        mutating func decode(_ capture: Capture, records: Int, rebase: Int64, _ emit: (Packet) -> Void) -> Outcome {
            if let index = capture.index {
                let upTo = min(index.count, position + records)
                while position < upTo {
                    let e = index[position]
                    guard let d = window!.bytes(at: Int(e.dataOffset), count: Int(e.length)) else {
                        let why = window!.readError.map { "cannot read: " + CaptureCursor<FileWindow>.reason($0) } ?? "the record is gone"
                        return .failed(PcapError(name: capture.path, what: "the file changed after it was checked (\(why))",
                                                 offset: Int(e.dataOffset)))
                    }
                    position += 1
                    if case .packet(var p) = PcapReader.frame(d, link: e.link, ts: e.timestamp) {
                        p.timestamp -= rebase
                        emit(p)
                    }
                }
                return position == index.count ? .end : .more
            }
            var ignored = PcapStats()
            for _ in 0..<records {
                let r: CaptureRecord?
                do throws(PcapError) { r = try cursor!.next(&ignored) } catch {
                    var e = error
                    e.what = "the file changed after it was checked (\(error.what))"
                    e.description = "--pcap \(capture.path): \(e.what)" + (e.offset.map { " at byte offset \($0)" } ?? "")
                    return .failed(e)
                }
                guard let r else { return .end }
                if case .packet(var p) = PcapReader.frame(r.data, link: r.link, ts: r.timestamp) {
                    p.timestamp -= rebase
                    emit(p)
                }
            }
            return .more
        }
    }

    /// One worker's place; touched only by that worker.
    final class Lane {
        var part = UnsafeBufferPointer<Packet>(start: nil, count: 0)
        var pos = 0
        var done = false
        /// Its own decoder and chunk, when it is ahead of the shared chunks.
        var own: Decoder?
        var ownChunk: Chunk?
    }

    let capture: Capture
    let workers: Int
    let rebase: Int64
    let perChunk: Int
    let soft: Int
    let hard: Int
    let lanes: [Lane]

    let mutex = HeapMutex()
    // Protected by `mutex`:
    /// Chunk c is `ring[c % hard]` for c in lo..<hi.
    var ring: [Chunk?]
    var lo = 0, hi = 0
    /// The chunk each worker reads (-1 before its first, Int.max when done).
    var at: [Int]
    var shared: Decoder
    /// Chunks in the file, once a decoder has reached its end.
    var last: Int?
    var firstFailure: PcapError?
    var spare: [Chunk] = []
    /// Packets of the chunk being decoded, and their workers (n > 1).
    let scratch: UnsafeMutableBufferPointer<Packet>
    let scratchWorker: UnsafeMutableBufferPointer<Int32>
    /// Where each worker's next packet goes while a chunk is grouped.
    var groupNext: [Int]
    /// Chunks decoded by a worker on its own, and chunks decoded shared.
    var ownDecodes = 0, sharedDecodes = 0
    var peakChunks = 0

    static let defaultPerChunk = 1 << 16

    init(_ capture: Capture, workers: Int, rebase: Int64, perChunk: Int = CaptureReplay.defaultPerChunk,
         soft: Int = 4, hard: Int = 8) {
        precondition(workers >= 1 && perChunk >= 1 && soft >= 2 && hard >= soft)
        self.capture = capture
        self.workers = workers
        self.rebase = rebase
        self.perChunk = perChunk
        self.soft = soft
        self.hard = hard
        lanes = (0..<workers).map { _ in Lane() }
        ring = [Chunk?](repeating: nil, count: hard)
        at = [Int](repeating: -1, count: workers)
        groupNext = [Int](repeating: 0, count: workers)
        shared = Decoder(capture)
        scratch = .allocate(capacity: workers > 1 ? perChunk : 0)
        scratchWorker = .allocate(capacity: workers > 1 ? perChunk : 0)
    }

    deinit {
        scratch.deallocate()
        scratchWorker.deallocate()
    }

    var failure: PcapError? { mutex.withLock { firstFailure } }

    /// What the replay did (tests and measurements).
    var counts: (shared: Int, own: Int, peakChunks: Int) { mutex.withLock { (sharedDecodes, ownDecodes, peakChunks) } }

    /// Fills `out` with worker `w`'s next packets; see `CaptureStream.fill`.
    func fill(_ w: Int, _ out: UnsafeMutableBufferPointer<Packet>) -> Int {
        let lane = lanes[w]
        var n = 0
        while n < out.count {
            let k = min(out.count - n, lane.part.count - lane.pos)
            if k > 0 {
                (out.baseAddress! + n).initialize(from: lane.part.baseAddress! + lane.pos, count: k)
                n += k
                lane.pos += k
                continue
            }
            if lane.done || !advance(w, lane, holding: n) { break }
        }
        return n
    }

    /// Moves worker `w` to its next chunk; false at the end, or when it
    /// holds `holding` > 0 packets and the next chunk would have to wait.
    func advance(_ w: Int, _ lane: Lane, holding: Int) -> Bool {
        mutex.lock()
        let c = at[w] + 1
        if let last, c >= last {
            at[w] = .max
            retire()
            mutex.unlock()
            lane.done = true
            lane.part = UnsafeBufferPointer(start: nil, count: 0)
            lane.pos = 0
            return false
        }
        if c < hi {
            at[w] = c
            lane.part = ring[c % hard]!.part(w)
            lane.pos = 0
            retire()
            mutex.unlock()
            return true
        }
        if c == hi {
            // Chunks held once w moves on: from the slowest reader to c.
            var slowest = c
            for (i, a) in at.enumerated() where i != w { slowest = min(slowest, a) }
            let held = hi + 1 - max(lo, max(slowest, 0))
            if held <= (holding > 0 ? soft : hard) {
                // Retire first: the slot chunk c takes may be one w leaves.
                at[w] = c
                retire()
                decodeShared()
                lane.part = ring[c % hard]!.part(w)
                lane.pos = 0
                mutex.unlock()
                return true
            }
            if holding > 0 { mutex.unlock(); return false }
            // From the shared decoder's place, on its own.
            lane.own = Decoder(at: shared, capture)
        } else if holding > 0 {
            mutex.unlock()
            return false
        }
        // c > hi: its own decoder is at chunk c.
        at[w] = c
        ownDecodes += 1
        retire()
        mutex.unlock()
        let chunk = lane.ownChunk ?? Chunk(capacity: perChunk, workers: 1)
        lane.ownChunk = chunk
        var k = 0
        let n = workers
        let outcome = lane.own!.decode(capture, records: perChunk, rebase: rebase) { p in
            if n == 1 || PcapReader.shard(p, n) == w { chunk.packets[k] = p; k += 1 }
        }
        chunk.starts[0] = 0
        chunk.starts[1] = k
        lane.part = chunk.part(0)
        lane.pos = 0
        switch outcome {
        case .more: break
        case .end: mutex.withLock { last = min(last ?? .max, c + 1) }
        case .failed(let e):
            mutex.withLock {
                last = min(last ?? .max, c + 1)
                if firstFailure == nil { firstFailure = e }
            }
        }
        return true
    }

    /// Decodes chunk `hi` into the ring. Preconditions: the mutex is held,
    /// and fewer than `hard` chunks are held.
    private func decodeShared() {
        let chunk = spare.popLast() ?? Chunk(capacity: perChunk, workers: workers)
        let n = workers
        var k = 0
        let outcome: Decoder.Outcome
        if n == 1 {
            outcome = shared.decode(capture, records: perChunk, rebase: rebase) { p in chunk.packets[k] = p; k += 1 }
            chunk.starts[0] = 0
            chunk.starts[1] = k
        } else {
            let scratch = self.scratch, scratchWorker = self.scratchWorker
            outcome = shared.decode(capture, records: perChunk, rebase: rebase) { p in
                scratch[k] = p
                scratchWorker[k] = Int32(truncatingIfNeeded: PcapReader.shard(p, n))
                k += 1
            }
            // Grouped by worker, each group in decoding order.
            for i in 0...n { chunk.starts[i] = 0 }
            for i in 0..<k { chunk.starts[Int(scratchWorker[i]) + 1] += 1 }
            for i in 0..<n { chunk.starts[i + 1] += chunk.starts[i] }
            for i in 0..<n { groupNext[i] = chunk.starts[i] }
            for i in 0..<k {
                let w = Int(scratchWorker[i])
                chunk.packets[groupNext[w]] = scratch[i]
                groupNext[w] += 1
            }
        }
        precondition(ring[hi % hard] == nil, "capture replay: more than \(hard) chunks held")
        ring[hi % hard] = chunk
        hi += 1
        sharedDecodes += 1
        peakChunks = max(peakChunks, hi - lo)
        switch outcome {
        case .more: break
        case .end: last = min(last ?? .max, hi)
        case .failed(let e):
            last = min(last ?? .max, hi)
            if firstFailure == nil { firstFailure = e }
        }
    }

    /// Retires the chunks every worker has moved past. Preconditions: the
    /// mutex is held.
    private func retire() {
        var slowest = Int.max
        for a in at { slowest = min(slowest, a) }
        while lo < hi && lo < slowest {
            spare.append(ring[lo % hard]!)
            ring[lo % hard] = nil
            lo += 1
        }
    }
}
