/// How the worker loop reads time.
public enum ClockMode: String, Sendable, Codable, CaseIterable {
    /// Packet timestamps drive time: timeouts and the reaper's schedule
    /// play out in seconds of real time.
    case virtual
    /// CLOCK_MONOTONIC on every read.
    case real
    /// CLOCK_MONOTONIC read once per 256 packets.
    case coarse
}

/// A worker's window onto a chunk of packets, kept across batches: where it
/// is, where the current batch ends, how it reads time and which packets it
/// times. `ConnTrackTable.processBatch` advances it.
public struct PacketBatch {
    /// The chunk; valid while the worker owns it.
    public let packets: UnsafeBufferPointer<Packet>
    /// Next packet to process.
    public var position = 0
    /// End of the current batch (exclusive).
    public var end = 0
    /// The loop stops before the first packet whose timestamp is at or
    /// after this (an inline reaper pass is due); `.max`: never.
    public var stopAtOrAfter = Int64.max
    public let clock: ClockMode
    /// Virtual clock only: when set, every packet is processed at this time
    /// (the start of a lock-step window) instead of its own timestamp, so
    /// all workers and the reaper share one "now" within the window.
    public var frozenNow: Int64? = nil
    /// One packet in `sampleEvery` is timed.
    public let sampleEvery: Int
    /// Packets until the next timed one; carry it from one batch window to
    /// the next so short windows still sample every `sampleEvery`-th packet.
    public var countdown: Int
    var coarse = CoarseClock()
    /// Latencies of the timed packets of the current batch, in ns.
    public let latencies: UnsafeMutableBufferPointer<UInt64>
    public internal(set) var latencyCount = 0

    /// `latencyCapacity` must be at least batch size / `sampleEvery` + 1.
    public init(packets: UnsafeBufferPointer<Packet>, clock: ClockMode, sampleEvery: Int,
                latencies: UnsafeMutableBufferPointer<UInt64>) {
        precondition(sampleEvery >= 1, "sampleEvery must be at least 1")
        self.packets = packets; self.clock = clock; self.sampleEvery = sampleEvery
        self.countdown = sampleEvery; self.latencies = latencies
    }

    /// Starts the next batch of at most `size` packets.
    public mutating func next(size: Int, upTo limit: Int) {
        end = Swift.min(limit, position + size)
        latencyCount = 0
    }
}

/// A clock the packet loop moves before each packet.
protocol LoopClock: TimeSource {
    mutating func advance(to p: Packet)
}

extension VirtualClock: LoopClock {
    @inline(__always) mutating func advance(to p: Packet) { current = p.timestamp }
}

/// Virtual time held at one instant (a lock-step window's start).
struct FrozenClock: LoopClock {
    let t: Int64
    init(_ t: Int64) { self.t = t }
    @inline(__always) func now() -> Int64 { t }
    @inline(__always) mutating func advance(to p: Packet) {}
}

extension MonotonicClock: LoopClock {
    @inline(__always) mutating func advance(to p: Packet) {}
}

extension CoarseClock: LoopClock {
    @inline(__always) mutating func advance(to p: Packet) {
        ticks &+= 1
        if ticks & 255 == 0 { tick() }
    }
}

/// The per-packet loop shared by every design. Each design's
/// `processBatch` calls it with its concrete type, so it is specialised for
/// each design and clock: `handlePacket` is a direct (inlinable) call, not
/// a witness call per packet.
@inline(__always)
func runPacketLoop<T: ConnTrackTable>(_ table: T, _ b: inout PacketBatch, _ ctx: inout WorkerContext) {
    switch b.clock {
    case .virtual:
        if let t = b.frozenNow {
            var c = FrozenClock(t)
            runPacketLoop(table, &b, clock: &c, &ctx)
        } else {
            var c = VirtualClock(0)
            runPacketLoop(table, &b, clock: &c, &ctx)
        }
    case .real:
        var c = MonotonicClock()
        runPacketLoop(table, &b, clock: &c, &ctx)
    case .coarse:
        var c = b.coarse
        runPacketLoop(table, &b, clock: &c, &ctx)
        b.coarse = c
    }
}

@inline(__always)
func runPacketLoop<T: ConnTrackTable, C: LoopClock>(_ table: T, _ b: inout PacketBatch, clock: inout C,
                                                    _ ctx: inout WorkerContext) {
    var i = b.position
    let end = b.end
    let stop = b.stopAtOrAfter
    var countdown = b.countdown
    while i < end {
        let p = b.packets[i]
        if p.timestamp >= stop { break }
        clock.advance(to: p)
        countdown -= 1
        if countdown == 0 {
            countdown = b.sampleEvery
            let t0 = MonotonicClock.read()
            _ = table.handlePacket(p, clock: clock, &ctx)
            if b.latencyCount < b.latencies.count {
                b.latencies[b.latencyCount] = UInt64(max(0, MonotonicClock.read() - t0))
                b.latencyCount += 1
            }
        } else {
            _ = table.handlePacket(p, clock: clock, &ctx)
        }
        i += 1
    }
    b.position = i
    b.countdown = countdown
}
