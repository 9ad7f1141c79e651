import CPrefetch

/// The event calendar's memory: blocks of events chained per slot or
/// bucket, and each chain's first and last block. Raw memory, so that a
/// block is one aligned 128-byte piece (its header beside its events) and
/// an append is no more than its cache lines: no bounds or uniqueness check
/// per field. Owned by one `EventCalendar`, which copies it before a change
/// when it is shared (`EventCalendar.unique`).
final class CalendarPool {
    typealias Event = EventCalendar.Event
    /// A block's header; its events follow at `eventsOffset`.
    struct Header {
        /// The next block in its chain, or the next free block (-1: none).
        var next: Int32
        var count: Int32
    }
    static var eventsOffset: Int { 8 }
    static var blockBytes: Int { EventCalendar.blockBytes }
    static var blockEvents: Int { EventCalendar.blockEvents }

    let chains: Int
    /// Per chain: its first and last block (-1: empty).
    let heads: UnsafeMutablePointer<Int32>
    let tails: UnsafeMutablePointer<Int32>
    private(set) var blocks: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Blocks ever handed out (all below are in a chain or free).
    private(set) var used = 0
    /// The free blocks' list, through their headers (-1: empty).
    private var free: Int32 = -1

    init(chains: Int, capacity: Int = 1024) {
        self.chains = chains
        heads = .allocate(capacity: chains)
        tails = .allocate(capacity: chains)
        heads.initialize(repeating: -1, count: chains)
        tails.initialize(repeating: -1, count: chains)
        self.capacity = capacity
        blocks = .allocate(byteCount: capacity * Self.blockBytes, alignment: 64)
    }

    deinit {
        heads.deallocate()
        tails.deallocate()
        blocks.deallocate()
    }

    /// A copy with the same chains and blocks.
    func copy() -> CalendarPool {
        let c = CalendarPool(chains: chains, capacity: capacity)
        c.heads.update(from: heads, count: chains)
        c.tails.update(from: tails, count: chains)
        c.blocks.copyMemory(from: blocks, byteCount: used * Self.blockBytes)
        c.used = used
        c.free = free
        return c
    }

    /// Room for `blocks` in use at once without growing.
    func reserve(blocks n: Int) {
        if n > capacity { grow(to: n) }
    }

    private func grow(to n: Int) {
        let b = UnsafeMutableRawPointer.allocate(byteCount: n * Self.blockBytes, alignment: 64)
        b.copyMemory(from: blocks, byteCount: used * Self.blockBytes)
        blocks.deallocate()
        blocks = b
        capacity = n
    }

    @inline(__always)
    func header(_ b: Int32) -> UnsafeMutablePointer<Header> {
        (blocks + Int(b) * Self.blockBytes).assumingMemoryBound(to: Header.self)
    }

    @inline(__always)
    func events(_ b: Int32) -> UnsafeMutablePointer<Event> {
        (blocks + Int(b) * Self.blockBytes + Self.eventsOffset).assumingMemoryBound(to: Event.self)
    }

    /// A block from the free list, or a new one.
    @inline(__always)
    func newBlock() -> Int32 {
        let b: Int32
        if free >= 0 {
            b = free
            free = header(b).pointee.next
        } else {
            if used == capacity { grow(to: 2 * capacity) }
            b = Int32(used)
            used += 1
        }
        header(b).pointee = Header(next: -1, count: 0)
        return b
    }

    /// `e` at the end of chain `c`.
    @inline(__always)
    func append(_ e: Event, to c: Int) {
        var b = tails[c]
        if b < 0 || header(b).pointee.count == Int32(Self.blockEvents) {
            let nb = newBlock()
            if b < 0 { heads[c] = nb } else { header(b).pointee.next = nb }
            tails[c] = nb
            b = nb
        }
        let h = header(b)
        events(b)[Int(h.pointee.count)] = e
        h.pointee.count += 1
    }

    /// Empties chain `c`: frees each block and calls `body` with a copy of
    /// its events, in order (`body` may append, and so grow the pool and
    /// reuse the block). Returns how many events there were.
    @inline(__always)
    private func take(_ c: Int, _ body: (UnsafeMutableBufferPointer<Event>) -> Void) -> Int {
        var b = heads[c]
        heads[c] = -1
        tails[c] = -1
        var n = 0
        withUnsafeTemporaryAllocation(of: Event.self, capacity: Self.blockEvents) { tmp in
            while b >= 0 {
                let h = header(b).pointee
                // The next block is read ahead while this one is handled.
                if h.next >= 0 { ct_prefetch_read(UnsafeRawPointer(header(h.next))) }
                let k = Int(h.count)
                tmp.baseAddress!.update(from: events(b), count: k)
                header(b).pointee.next = free
                free = b
                body(UnsafeMutableBufferPointer(rebasing: tmp[0..<k]))
                n += k
                b = h.next
            }
        }
        return n
    }

    /// Empties chain `c` onto the end of `out`; returns how many.
    func drain(_ c: Int, into out: inout [Event]) -> Int {
        take(c) { out.append(contentsOf: $0) }
    }

    /// Empties chain `c` into the chains `to` names for each event, in
    /// order; returns how many.
    func deal(_ c: Int, to: (Event) -> Int) -> Int {
        take(c) { evs in for e in evs { append(e, to: to(e)) } }
    }

    /// Calls `body` with each event of chain `c`, in order. For checks.
    func forEach(chain c: Int, _ body: (Event) -> Void) {
        var b = heads[c]
        while b >= 0 {
            let h = header(b).pointee
            for k in 0..<Int(h.count) { body(events(b)[k]) }
            b = h.next
        }
    }
}
