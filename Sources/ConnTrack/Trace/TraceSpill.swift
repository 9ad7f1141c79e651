#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A lane's overflow: two unlinked temporary files (verdicts, events),
/// written as the lane's buffers fill and read back once at the end. The
/// files have no name from the moment they exist, so nothing is left
/// behind whatever way the run ends. A write that fails is remembered
/// (`failure`) and reported when the output is written, never as a
/// half-written output.
public final class TraceSpill: @unchecked Sendable {
    /// Directory for the temporary files.
    public let directory: String
    // Owned by the lane's thread during the run, by the reader after it.
    var fds: [Int32] = [-1, -1]
    /// Entries spilled: verdicts, events.
    public private(set) var verdictCount = 0
    public private(set) var eventCount = 0
    /// The first write or create error, if any.
    public private(set) var failure: String?

    public init(directory: String) { self.directory = directory }

    deinit { for fd in fds where fd >= 0 { close(fd) } }

    func fd(events: Bool) -> Int32? {
        let k = events ? 1 : 0
        if fds[k] >= 0 { return fds[k] }
        var name = Array((directory + "/.conntrack-bench-trace-XXXXXX").utf8CString)
        let fd = mkstemp(&name)
        guard fd >= 0 else {
            failure = failure ?? "cannot create a temporary file in '\(directory)': \(String(cString: strerror(errno)))"
            return nil
        }
        unlink(name)
        fds[k] = fd
        return fd
    }

    /// Appends `count` entries of `stride` bytes at `p`.
    func append(_ p: UnsafeRawPointer, count: Int, stride: Int, events: Bool) {
        guard failure == nil, count > 0, let fd = fd(events: events) else { return }
        let total = count * stride
        var off = 0
        while off < total {
            let n = write(fd, p + off, total - off)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = "cannot write a temporary file in '\(directory)': \(String(cString: strerror(errno)))"
                return
            }
            off += n
        }
        if events { eventCount += count } else { verdictCount += count }
    }

    /// Reads spilled entries [first, first + count) into `out`; false on a
    /// read error (recorded in `failure`).
    func read(events: Bool, first: Int, count: Int, stride: Int, into out: UnsafeMutableRawPointer) -> Bool {
        guard count > 0 else { return true }
        let fd = fds[events ? 1 : 0]
        precondition(fd >= 0, "no spilled entries to read")
        let total = count * stride
        var off = 0
        while off < total {
            let n = pread(fd, out + off, total - off, off_t((first * stride) + off))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = failure ?? "cannot read back a temporary file in '\(directory)': \(n == 0 ? "it is shorter than written" : String(cString: strerror(errno)))"
                return false
            }
            off += n
        }
        return true
    }
}

/// Reads one lane's entries back in the order recorded: the spilled ones
/// (in chunks), then those still in the buffer.
public struct TraceReader<Entry> {
    let spill: TraceSpill
    let events: Bool
    let spilled: Int
    let buffered: UnsafeBufferPointer<Entry>
    let chunk: UnsafeMutableBufferPointer<Entry>
    var chunkCount = 0
    var chunkPos = 0
    /// Entries handed out so far.
    public private(set) var position = 0

    init(spill: TraceSpill, events: Bool, spilled: Int, buffered: UnsafeBufferPointer<Entry>, chunk: Int = 1 << 12) {
        self.spill = spill; self.events = events; self.spilled = spilled; self.buffered = buffered
        self.chunk = .allocate(capacity: max(1, chunk))
    }

    public func deallocate() { chunk.deallocate() }

    public var count: Int { spilled + buffered.count }

    /// The next entry, nil at the end or on a read error (see the spill's
    /// `failure`).
    public mutating func next() -> Entry? {
        if position >= count { return nil }
        if position >= spilled {
            let e = buffered[position - spilled]
            position += 1
            return e
        }
        if chunkPos == chunkCount {
            let n = min(chunk.count, spilled - position)
            guard spill.read(events: events, first: position, count: n, stride: MemoryLayout<Entry>.stride,
                             into: UnsafeMutableRawPointer(chunk.baseAddress!)) else { return nil }
            chunkCount = n; chunkPos = 0
        }
        let e = chunk[chunkPos]
        chunkPos += 1
        position += 1
        return e
    }
}

extension TraceLane {
    /// This lane's verdicts from the first. Preconditions: its thread is
    /// done with it. Deallocate the reader after use.
    public func verdictReader() -> TraceReader<VerdictEntry> {
        TraceReader(spill: spill, events: false, spilled: spill.verdictCount, buffered: bufferedVerdicts)
    }

    /// This lane's events from the first. Preconditions: as `verdictReader`.
    public func eventReader() -> TraceReader<ConnEvent> {
        TraceReader(spill: spill, events: true, spilled: spill.eventCount, buffered: bufferedEvents)
    }
}
