#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One packet's verdict as a lane records it: the packet's timestamp (the
/// key that merges several workers' lanes) and its flags.
public struct VerdictEntry: Sendable, Equatable {
    public var timestamp: Int64
    public var verdict: Verdict
    public init(timestamp: Int64, verdict: Verdict) { self.timestamp = timestamp; self.verdict = verdict }
}

/// What one thread records while tracing (a worker, or the reaper): its
/// verdicts and its events, in fixed buffers that spill to a temporary
/// file when full, so a run of any length records in bounded memory and
/// the packet path never allocates. Owned by one thread at a time,
/// reached through `WorkerContext.trace` (nil when tracing is off), read
/// by the harness after the thread is done (`TraceReader`).
public struct TraceLane {
    /// The worker's index; -1 for the reaper (its events sort first at
    /// equal times: a pass runs before the packets at its time).
    public let lane: Int32
    public let recordsVerdicts: Bool
    public let recordsEvents: Bool
    /// The packet in progress: its position in this lane's input. Moved on
    /// by `verdict`, which every design calls once per packet, last.
    public internal(set) var index: UInt64 = 0
    /// Events recorded during the packet in progress (the reaper lane:
    /// since it started).
    var seq: UInt32 = 0
    let verdictBuffer: UnsafeMutablePointer<VerdictEntry>
    let verdictCapacity: Int
    public internal(set) var verdictCount = 0
    let eventBuffer: UnsafeMutablePointer<ConnEvent>
    let eventCapacity: Int
    public internal(set) var eventCount = 0
    /// Where full buffers go.
    public let spill: TraceSpill

    /// Buffers of `verdictCapacity` verdicts and `eventCapacity` events
    /// (each rounded up to 1); `spill` takes them when full.
    public init(lane: Int32, verdicts: Bool, events: Bool, spill: TraceSpill,
                verdictCapacity: Int = 1 << 16, eventCapacity: Int = 1 << 12) {
        precondition(_isPOD(ConnEvent.self) && _isPOD(VerdictEntry.self), "trace entries must be plain data")
        self.lane = lane; recordsVerdicts = verdicts; recordsEvents = events; self.spill = spill
        self.verdictCapacity = verdicts ? max(1, verdictCapacity) : 1
        self.eventCapacity = events ? max(1, eventCapacity) : 1
        verdictBuffer = .allocate(capacity: self.verdictCapacity)
        eventBuffer = .allocate(capacity: self.eventCapacity)
    }

    /// Frees the buffers. Preconditions: nothing reads them any more.
    public func deallocate() {
        verdictBuffer.deallocate()
        eventBuffer.deallocate()
    }

    /// The verdicts still in memory (after `spill.verdictCount` spilled ones).
    public var bufferedVerdicts: UnsafeBufferPointer<VerdictEntry> { .init(start: verdictBuffer, count: verdictCount) }
    /// The events still in memory (after `spill.eventCount` spilled ones).
    public var bufferedEvents: UnsafeBufferPointer<ConnEvent> { .init(start: eventBuffer, count: eventCount) }

    /// Records the verdict of the packet in progress and moves to the next.
    @inline(__always)
    public mutating func verdict(_ v: Verdict, timestamp: Int64) {
        if recordsVerdicts {
            if verdictCount == verdictCapacity { spillVerdicts() }
            verdictBuffer[verdictCount] = VerdictEntry(timestamp: timestamp, verdict: v)
            verdictCount &+= 1
        }
        index &+= 1
        if lane >= 0 { seq = 0 }
    }

    /// Records an event of the packet in progress (or of the reaper).
    @inline(__always)
    public mutating func event(_ kind: ConnEventKind, _ record: ConnectionRecord, time: Int64, reason: RemovalReason) {
        guard recordsEvents else { return }
        if eventCount == eventCapacity { spillEvents() }
        eventBuffer[eventCount] = ConnEvent(time: time, index: index, seq: seq, lane: lane, kind: kind,
                                            reason: reason, record: record)
        eventCount &+= 1
        seq &+= 1
    }

    @inline(never)
    mutating func spillVerdicts() {
        spill.append(UnsafeRawPointer(verdictBuffer), count: verdictCount, stride: MemoryLayout<VerdictEntry>.stride,
                     events: false)
        verdictCount = 0
    }

    @inline(never)
    mutating func spillEvents() {
        spill.append(UnsafeRawPointer(eventBuffer), count: eventCount, stride: MemoryLayout<ConnEvent>.stride,
                     events: true)
        eventCount = 0
    }
}
