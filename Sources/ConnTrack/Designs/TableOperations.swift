/// What one operation on a running table did (`--op`): the entries it
/// visited and the connections it listed or removed.
public struct OperationCounts: Sendable, Equatable, Codable {
    /// Entries walked: tuples in chains, slots, map entries, as the design
    /// keeps them.
    public var visited = 0
    /// Connections handed to the caller.
    public var listed = 0
    /// Connections removed.
    public var removed = 0
    /// Walks repeated because the structure moved under them (a cuckoo
    /// map's displacement, a seqlock's retry).
    public var retries = 0
    /// A resize: the slots before and after it (entries rehashed are
    /// `visited`).
    public var slotsBefore: Int? = nil
    public var slotsAfter: Int? = nil
    public init() {}
}

// Operations while packets flow. Each design walks with its own
// mechanics (what lock, for how long), so what an operation costs the
// packets is the design's. The caller runs on its own thread, registered
// with `registerWorker` and quiescent between calls.
extension ConnTrackTable {
    /// `conntrack -L` while workers run: every connection live for the
    /// whole walk is listed exactly once (at its original tuple), with its
    /// state read under its lock; connections created or removed during
    /// the walk may or may not be. nil: the design cannot list while
    /// running (a plugin without the entry).
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        nil
    }
}

/// Which connections a `delete` operation removes, by their original
/// tuple (`conntrack -D -s 10.0.0.0/8 --dport 443`): every condition given
/// must hold; none given matches every connection (a flush).
public struct ConnectionFilter: Sendable, Equatable, CustomStringConvertible {
    /// An address prefix: the top `length` bits of `address` (IPv4
    /// addresses are the top 32 bits of the 128), of `net`.
    public struct Prefix: Sendable, Equatable {
        public var address: IPAddress
        public var length: Int
        public var net: NetProto
        public var text: String

        public init(address: IPAddress, length: Int, net: NetProto, text: String) {
            precondition((0...(net == .ipv4 ? 32 : 128)).contains(length), "a /\(length) prefix")
            self.address = address
            self.length = length
            self.net = net
            self.text = text
        }

        @inline(__always)
        func contains(_ a: IPAddress, _ n: NetProto) -> Bool {
            guard n == net else { return false }
            let hiBits = min(length, 64), loBits = max(0, length - 64)
            let hiMask: UInt64 = hiBits == 0 ? 0 : ~0 << (64 - hiBits)
            let loMask: UInt64 = loBits == 0 ? 0 : ~0 << (64 - loBits)
            return a.hi & hiMask == address.hi & hiMask && a.lo & loMask == address.lo & loMask
        }
    }

    public var src: Prefix? = nil
    public var dst: Prefix? = nil
    public var sport: ClosedRange<UInt16>? = nil
    public var dport: ClosedRange<UInt16>? = nil

    public init() {}

    @inline(__always)
    public func matches(_ t: TupleID) -> Bool {
        if let p = src, !p.contains(t.srcAddr, t.netProto) { return false }
        if let p = dst, !p.contains(t.dstAddr, t.netProto) { return false }
        if let r = sport, !r.contains(t.srcPort) { return false }
        if let r = dport, !r.contains(t.dstPort) { return false }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if let p = src { parts.append("src=" + p.text) }
        if let p = dst { parts.append("dst=" + p.text) }
        if let r = sport { parts.append("sport=\(r.lowerBound)" + (r.count > 1 ? "-\(r.upperBound)" : "")) }
        if let r = dport { parts.append("dport=\(r.lowerBound)" + (r.count > 1 ? "-\(r.upperBound)" : "")) }
        return parts.joined(separator: ",")
    }
}

extension ConnTrackTable {
    /// Removes the connections `filter` matches while workers run (`--op
    /// flush`, `delete`): every matching connection live for the whole
    /// walk is removed; one created during it may remain. nil: the design
    /// cannot.
    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        nil
    }
}

extension ConnTrackTable {
    /// `--op resize:N`: every connection is in the table after it exactly
    /// once, in the slot the new size gives it; a packet during it finds
    /// what it would have found without it. nil: the design cannot.
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        nil
    }
}
