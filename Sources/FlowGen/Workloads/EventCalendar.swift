/// The workload generator's pending events (a flow's next packet) in time
/// order, ties by event number: a two-level calendar queue.
///
/// Time is cut into slots of 2^14 ns (16 us), and slots into buckets of 256
/// (4 ms). The bucket being played has a chain of events per slot; the
/// 2^12 buckets after it (about 17 s) have a chain each; an event further
/// ahead waits in a heap until the calendar reaches it. When the calendar
/// enters a bucket, the bucket's chain is dealt out to its slots; when it
/// enters a slot, the slot's chain is copied out and sorted, and played in
/// order. An event due in the slot being played is put in its place.
///
/// Why two levels: at a million flows, a flow's next packet is usually a
/// second or more ahead, so a schedule lands in a random place. With one
/// level of 2^20 slots nearly every schedule missed the cache twice (the
/// slot's tail, then its block); with 2^12 buckets, the buckets' tails and
/// their last blocks (half a megabyte) mostly stay in the cache, and the
/// dealing out is sequential. (2^14 buckets of 1 ms were 7 % slower, 2^10
/// of 16 ms the same.)
///
/// The chains are blocks of `blockEvents` events and a header, 128 bytes
/// and cache-line aligned, from one pool with an intrusive free list.
struct EventCalendar {
    static var slotShift: Int64 { 14 }
    /// Slots per bucket: 2^8.
    static var slotBits: Int64 { 8 }
    static var bucketShift: Int64 { slotShift + slotBits }
    static var bucketCount: Int { 1 << 12 }
    static var blockEvents: Int { 7 }
    /// A block's memory: its header and its events, padded to two lines.
    static var blockBytes: Int { 128 }
    /// The memory of the chains' heads and tails.
    static var headerBytes: Int { (bucketCount + (1 << Int(slotBits))) * 8 }

    struct Event {
        var time: Int64
        var id: Int32
        @inline(__always)
        static func < (a: Event, b: Event) -> Bool { a.time < b.time || (a.time == b.time && a.id < b.id) }
    }

    /// The blocks and the chains' ends, in memory of its own; shared by
    /// copies of a calendar until one of them changes it.
    var pool: CalendarPool
    /// Events in the slots' chains (the bucket being played), and in the
    /// buckets' chains.
    var inSlots = 0
    var inBuckets = 0
    /// The absolute slot being played (time >> slotShift), and its bucket.
    var slot: Int64 = 0
    var bucket: Int64 = 0
    /// The slot's events, latest first (the next is the last).
    var ready: [Event] = []
    /// Set when the next slot's events were taken out into `ready`; the
    /// caller clears it (to prefetch what they will touch).
    var refilled = false
    var far = EventHeap()

    init() { pool = CalendarPool(chains: Self.bucketCount + (1 << Int(Self.slotBits))) }

    /// Room for `events` pending at once without growing.
    mutating func reserve(_ events: Int) {
        unique()
        // At worst each pending event has a block of its own (sparse
        // events); pages not used are not touched.
        pool.reserve(blocks: events + Self.bucketCount)
    }

    /// The pool to itself before a change (copy on write).
    @inline(__always)
    mutating func unique() {
        if !isKnownUniquelyReferenced(&pool) { pool = pool.copy() }
    }

    /// Chain numbers: the buckets' first, then the slots'.
    @inline(__always)
    static func bucketChain(_ b: Int64) -> Int { Int(b) & (bucketCount - 1) }
    @inline(__always)
    static func slotChain(_ s: Int64) -> Int { bucketCount + Int(s & ((1 << slotBits) - 1)) }

    mutating func schedule(_ id: Int32, at t: Int64) {
        let s = t >> Self.slotShift
        if s <= slot {
            insertReady(Event(time: t, id: id))
            return
        }
        let b = t >> Self.bucketShift
        if b == bucket {
            unique()
            pool.append(Event(time: t, id: id), to: Self.slotChain(s))
            inSlots += 1
        } else if b - bucket < Int64(Self.bucketCount) {
            unique()
            pool.append(Event(time: t, id: id), to: Self.bucketChain(b))
            inBuckets += 1
        } else {
            far.push(t, id)
        }
    }

    /// Into the ready list (latest first) at its place: an event due in the
    /// slot being played (rare: a gap shorter than the slot's rest).
    mutating func insertReady(_ e: Event) {
        var lo = 0, hi = ready.count
        // The first position whose event comes before `e`.
        while lo < hi {
            let mid = (lo + hi) / 2
            if ready[mid] < e { hi = mid } else { lo = mid + 1 }
        }
        ready.insert(e, at: lo)
    }

    /// The next event's time; nil when none is left.
    @inline(__always)
    mutating func peekTime() -> Int64? {
        if ready.isEmpty && !advance() { return nil }
        return ready[ready.count - 1].time
    }

    /// The next event. Preconditions: `peekTime()` returned a time.
    @inline(__always)
    mutating func pop() -> Event { ready.removeLast() }

    /// The event `k` places after the next (nil: not in the ready list),
    /// for prefetching what it will touch.
    @inline(__always)
    func upcoming(_ k: Int) -> Int32? {
        let i = ready.count - 1 - k
        return i >= 0 ? ready[i].id : nil
    }

    /// Moves to the next slot that holds events and makes them the ready
    /// list; false when nothing is pending.
    mutating func advance() -> Bool {
        unique()
        while ready.isEmpty {
            if inSlots == 0 {
                // Nothing left in this bucket: on to the next bucket with
                // events (the heap's first when the buckets are empty).
                if inBuckets == 0 {
                    guard let (t, _) = far.peek else { return false }
                    bucket = max(bucket + 1, t >> Self.bucketShift)
                } else {
                    bucket += 1
                }
                slot = bucket << Self.slotBits
                enterBucket()
            } else {
                slot += 1
                assert(slot >> Self.slotBits == bucket, "events in slots past their bucket")
            }
            let n = pool.drain(Self.slotChain(slot), into: &ready)
            inSlots -= n
            sortReady()
        }
        refilled = true
        return true
    }

    /// Preconditions: `bucket` and `slot` (its first) were just moved on.
    /// What the calendar can now hold comes out of the heap, and the
    /// bucket's chain is dealt out to its slots.
    mutating func enterBucket() {
        assert(inSlots == 0 && slot == bucket << Self.slotBits)
        while let (t, id) = far.peek, (t >> Self.bucketShift) - bucket < Int64(Self.bucketCount) {
            far.pop()
            if t >> Self.slotShift <= slot { ready.append(Event(time: t, id: id)) } else { schedule(id, at: t) }
        }
        // Its first slot's events too: `advance` takes them from there.
        let dealt = pool.deal(Self.bucketChain(bucket)) { Self.slotChain($0.time >> Self.slotShift) }
        inBuckets -= dealt
        inSlots += dealt
    }

    /// Latest first. Insertion sort for the few events a slot holds at a
    /// million a second; the library's sort beyond.
    mutating func sortReady() {
        guard ready.count <= 48 else {
            ready.sort { $1 < $0 }
            return
        }
        ready.withUnsafeMutableBufferPointer { r in
            guard r.count > 1 else { return }
            for i in 1..<r.count {
                let x = r[i]
                var j = i
                while j > 0 && r[j - 1] < x {
                    r[j] = r[j - 1]
                    j -= 1
                }
                r[j] = x
            }
        }
    }

    /// Every pending event is in exactly one place, in the place its time
    /// says. For tests.
    func _checkInvariants() {
        var slots = 0, buckets = 0
        for c in 0..<Self.bucketCount + (1 << Int(Self.slotBits)) {
            pool.forEach(chain: c) { e in
                let b = e.time >> Self.bucketShift, s = e.time >> Self.slotShift
                if c >= Self.bucketCount {
                    precondition(b == bucket && s > slot && Self.slotChain(s) == c, "event at \(e.time) in slot chain \(c)")
                    slots += 1
                } else {
                    precondition(b > bucket && b - bucket < Int64(Self.bucketCount) && Self.bucketChain(b) == c,
                                 "event at \(e.time) in bucket chain \(c)")
                    buckets += 1
                }
            }
        }
        precondition(slots == inSlots && buckets == inBuckets, "counted \(slots)/\(buckets), kept \(inSlots)/\(inBuckets)")
        precondition(ready.allSatisfy { $0.time >> Self.slotShift <= slot }, "a ready event after the slot")
        precondition(zip(ready, ready.dropFirst()).allSatisfy { $1 < $0 }, "ready list out of order")
        precondition(far.items.allSatisfy { ($0.0 >> Self.bucketShift) - bucket >= Int64(Self.bucketCount) },
                     "a far event within the calendar's reach")
    }
}
