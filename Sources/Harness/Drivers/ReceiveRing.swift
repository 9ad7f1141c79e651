/// A worker's receive ring in a paced run: packets arrive at a fixed rate
/// into `capacity` descriptors, and a packet that arrives while every
/// descriptor holds a packet is dropped (tail drop, as a NIC's RX queue
/// drops when the driver has not refilled it).
///
/// No thread feeds it. Packet i (counted from 0 over the worker's stream)
/// is due at `t0 + ceil(i * 1e9 / rate)` ns; the worker polls the ring at
/// its batch boundaries, and since it takes nothing between two polls,
/// the arrivals since the last poll fill the free descriptors in order and
/// the rest of them are dropped: what the poll computes is exactly what a
/// ring filled packet by packet would hold. The ring holds stream indices
/// only, as runs of consecutive packets (`Segment`); where their packets
/// sit is the driver's business.
///
/// Time is whatever the caller passes, so tests drive it with a fake clock.
struct ReceiveRing {
    /// A run of accepted packets: stream indices `first ..< first + count`,
    /// at `offset` in the driver's buffer.
    struct Segment: Equatable {
        var first: Int
        var count: Int
        var offset: Int
    }

    /// Descriptors.
    let capacity: Int
    /// Packets per second.
    let rate: Int
    /// When packet 0 is due, ns. Moved forward by `pause(nanos:)`.
    private(set) var t0: Int64
    /// Packets that have arrived (accepted or dropped): the next arrival's
    /// stream index.
    private(set) var arrived = 0
    private(set) var dropped = 0
    /// Packets taken out by the worker.
    private(set) var taken = 0
    /// The most packets the ring held after a poll.
    private(set) var highWater = 0
    /// Waiting packets, oldest first; `head` indexes the oldest.
    private var segments: [Segment] = []
    private var head = 0

    init(capacity: Int, rate: Int, t0: Int64) {
        precondition(capacity >= 1 && rate >= 1, "a ring of \(capacity) descriptors at \(rate) packets/s")
        self.capacity = capacity
        self.rate = rate
        self.t0 = t0
        segments.reserveCapacity(2 * capacity + 2)
    }

    /// Packets waiting in the ring.
    var occupancy: Int { arrived - dropped - taken }
    var isEmpty: Bool { occupancy == 0 }

    /// When stream packet i is due, ns.
    func due(_ i: Int) -> Int64 {
        t0 &+ Int64((Int128(i) * 1_000_000_000 + Int128(rate) - 1) / Int128(rate))
    }

    /// Packets due by `now` (counted over the whole stream, arrived or not).
    func dueCount(at now: Int64) -> Int {
        guard now >= t0 else { return 0 }
        let n = Int128(now &- t0) * Int128(rate) / 1_000_000_000 + 1
        return n > Int128(Int.max / 2) ? Int.max / 2 : Int(n)
    }

    /// `n` packets arrive at once (the next `n` of the stream), the first of
    /// them placed at `offset` in the buffer and the rest after it: as many
    /// as there are free descriptors are accepted, the rest dropped.
    /// Returns how many were accepted.
    @discardableResult
    mutating func arrive(_ n: Int, offset: Int) -> Int {
        precondition(n >= 0, "a negative arrival")
        let accepted = min(n, capacity - occupancy)
        if accepted > 0 {
            if head == segments.count {
                segments.removeAll(keepingCapacity: true)
                head = 0
            } else if segments.count > capacity {
                // The runs taken out are dropped from the front now and
                // then: at most `capacity` runs wait, so the array stays
                // within what `init` reserved.
                segments.removeFirst(head)
                head = 0
            }
            if let last = segments.last, head < segments.count,
               last.first + last.count == arrived, last.offset + last.count == offset {
                segments[segments.count - 1].count += accepted
            } else {
                segments.append(Segment(first: arrived, count: accepted, offset: offset))
            }
        }
        arrived += n
        dropped += n - accepted
        highWater = max(highWater, occupancy)
        return accepted
    }

    /// Takes up to `limit` of the oldest waiting packets, calling `body`
    /// with each run of them (a run is consecutive in the stream and in the
    /// buffer); returns how many it took.
    @discardableResult
    mutating func take(upTo limit: Int, _ body: (Segment) -> Void) -> Int {
        var left = min(limit, occupancy)
        let n = left
        while left > 0 {
            var s = segments[head]
            let k = min(left, s.count)
            body(Segment(first: s.first, count: k, offset: s.offset))
            s.first += k; s.count -= k; s.offset += k
            segments[head] = s
            if s.count == 0 { head += 1 }
            left -= k
        }
        taken += n
        if head == segments.count { segments.removeAll(keepingCapacity: true); head = 0 }
        return n
    }

    /// The waiting packets' runs, oldest first.
    var waiting: ArraySlice<Segment> { segments[head...] }

    /// The waiting packets moved to `offset`, `offset + 1`, … in order (the
    /// driver compacted its buffer).
    mutating func relocate(to offset: Int) {
        var o = offset
        for k in head..<segments.count {
            segments[k].offset = o
            o += segments[k].count
        }
    }

    /// Time stood still for `nanos` (the worker generated packets, which is
    /// not the table's work): every later arrival is due that much later.
    mutating func pause(nanos: Int64) {
        precondition(nanos >= 0, "a negative pause")
        t0 &+= nanos
    }
}
