/// The workload generator's pending events (a flow's next packet, a
/// component's next arrival) in time order, ties by event number: a
/// calendar queue.
///
/// The calendar has 2^20 slots of 2^14 ns (about 17 s ahead): at a
/// million events a second a slot holds about sixteen, which an insertion
/// sort orders in a few compares each. A slot's
/// events sit in a chain of blocks of `blockEvents` (time, event) pairs
/// from a shared pool, appended as they are scheduled; an event further
/// ahead waits in a heap until the calendar reaches it. When the current
/// slot's events are all played, the next slot's chain is copied out and
/// sorted, and played in order.
/// An event scheduled into the slot being played is put in its place.
///
/// Per event that is a few array writes and a share of a small sort,
/// against a heap's push and pop; and a slot's events are read from
/// consecutive memory, not chased through a linked list of flows.
struct EventCalendar {
    static var slotShift: Int64 { 14 }
    static var slotCount: Int { 1 << 20 }
    /// Seven events and a header: 120 bytes. At a million events a second
    /// a slot holds about sixteen (three blocks); when events are sparse a
    /// slot's one event still takes a whole block, which is why blocks are
    /// small.
    static var blockEvents: Int { 7 }
    /// A block's memory: its events and its header.
    static var blockBytes: Int { blockEvents * MemoryLayout<Event>.stride + MemoryLayout<Block>.stride }
    /// The memory of the slots' headers.
    static var headerBytes: Int { slotCount * 8 }

    struct Event {
        var time: Int64
        var id: Int32
        @inline(__always)
        static func < (a: Event, b: Event) -> Bool { a.time < b.time || (a.time == b.time && a.id < b.id) }
    }

    /// A block's next block in its slot's chain (-1: none) and how many of
    /// its entries are used.
    struct Block {
        var next: Int32 = -1
        var count: Int32 = 0
    }

    /// Per slot: its chain's first and last block (-1: empty).
    var heads: [Int32]
    var tails: [Int32]
    /// The pool: block b's events at b × blockEvents ..< (b + 1) × blockEvents.
    var pool: [Event] = []
    var blocks: [Block] = []
    var freeBlocks: [Int32] = []
    /// Events in the slots (not the ready list, not the heap).
    var inSlots = 0
    /// The absolute slot being played (time >> slotShift).
    var slot: Int64 = 0
    /// The slot's events, latest first (the next is the last).
    var ready: [Event] = []
    var far = EventHeap()

    init() {
        heads = [Int32](repeating: -1, count: Self.slotCount)
        tails = [Int32](repeating: -1, count: Self.slotCount)
    }

    /// Room for `events` pending at once without growing.
    mutating func reserve(_ events: Int) {
        // At worst each pending event has a block of its own (sparse
        // events); pages not used are not touched.
        let b = events + Self.slotCount / 16
        pool.reserveCapacity(b * Self.blockEvents)
        blocks.reserveCapacity(b)
        freeBlocks.reserveCapacity(b)
    }

    mutating func schedule(_ id: Int32, at t: Int64) {
        let s = t >> Self.slotShift
        if s <= slot {
            insertReady(Event(time: t, id: id))
            return
        }
        guard s - slot < Int64(Self.slotCount) else {
            far.push(t, id)
            return
        }
        let w = Int(s) & (Self.slotCount - 1)
        var b = tails[w]
        if b < 0 || blocks[Int(b)].count == Int32(Self.blockEvents) {
            let nb = newBlock()
            if b < 0 { heads[w] = nb } else { blocks[Int(b)].next = nb }
            tails[w] = nb
            b = nb
        }
        let k = Int(blocks[Int(b)].count)
        pool[Int(b) * Self.blockEvents + k] = Event(time: t, id: id)
        blocks[Int(b)].count += 1
        inSlots += 1
    }

    mutating func newBlock() -> Int32 {
        if let b = freeBlocks.popLast() {
            blocks[Int(b)] = Block()
            return b
        }
        blocks.append(Block())
        pool.append(contentsOf: repeatElement(Event(time: 0, id: 0), count: Self.blockEvents))
        return Int32(blocks.count - 1)
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

    /// Moves to the next slot that holds events and makes them the ready
    /// list; false when nothing is pending.
    mutating func advance() -> Bool {
        while ready.isEmpty {
            if inSlots == 0 {
                guard let (t, _) = far.peek else { return false }
                slot = max(slot + 1, t >> Self.slotShift)
            } else {
                slot += 1
            }
            // What the calendar can now hold comes out of the heap (into
            // the ready list when it is due in this slot).
            while let (t, id) = far.peek, (t >> Self.slotShift) - slot < Int64(Self.slotCount) {
                far.pop()
                let s = t >> Self.slotShift
                if s <= slot { ready.append(Event(time: t, id: id)) } else { schedule(id, at: t) }
            }
            let w = Int(slot) & (Self.slotCount - 1)
            var b = heads[w]
            heads[w] = -1
            tails[w] = -1
            while b >= 0 {
                let block = blocks[Int(b)]
                let base = Int(b) * Self.blockEvents
                for k in 0..<Int(block.count) { ready.append(pool[base + k]) }
                inSlots -= Int(block.count)
                freeBlocks.append(b)
                b = block.next
            }
            sortReady()
        }
        return true
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
}
