/// TCP flag bits as on the wire.
public struct TCPFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// The fields of a TCP segment the tracker reads.
public struct TCPSegment: Sendable, Hashable {
    public var flags: TCPFlags
    /// The SYN's window scale option as OVS's tracker keeps it: 0x80 when
    /// present, with the shift (at most 14) in the low bits; 0 when absent.
    /// Only OVS's tracker reads it. Beside `flags`, in the padding before
    /// `seq`, so a packet stays the same size.
    public var wscale: UInt8 = 0
    public var seq: UInt32
    public var ack: UInt32
    public var window: UInt16
    public var payloadLength: UInt16


    public init(flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, window: UInt16 = 65535, payloadLength: UInt16 = 0,
                wscale: UInt8 = 0) {
        self.flags = flags; self.seq = seq; self.ack = ack; self.window = window; self.payloadLength = payloadLength
        self.wscale = wscale
    }

    /// Sequence space the segment occupies: data plus one for SYN and FIN.
    var logicalLength: UInt32 {
        UInt32(payloadLength) + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }
}

/// Result of feeding a segment to the tracker (gVisor `tcpconntrack.Result`).
public enum TrackerResult: UInt8, Sendable, Codable, CaseIterable {
    case drop = 0, connecting, alive, reset, closedByPeer, closedBySelf
}

/// Sequence-number arithmetic modulo 2^32 (gVisor `seqnum`).
enum Seq {
    @inline(__always) static func lessThan(_ v: UInt32, _ w: UInt32) -> Bool {
        Int32(bitPattern: v &- w) < 0
    }
    /// v in [a, b)
    @inline(__always) static func inRange(_ v: UInt32, _ a: UInt32, _ b: UInt32) -> Bool {
        v &- a < b &- a
    }
    @inline(__always) static func overlap(_ a: UInt32, _ b: UInt32, _ x: UInt32, _ y: UInt32) -> Bool {
        lessThan(a, x &+ y) && lessThan(x, a &+ b)
    }
}

/// One direction's sequence state.
public struct TCPStream: Sendable, Hashable, Codable {
    public var una: UInt32 = 0
    public var nxt: UInt32 = 0
    public var end: UInt32 = 0
    public var finSeen = false
    public var fin: UInt32 = 0
    public var rstSeen = false

    public init() {}

    /// gVisor's `header.Acceptable(segSeq, segLen, una, end)` as of 2020
    /// (RFC 793 pages 26 and 69, with Linux's inclusive window end): a zero
    /// window takes only an empty segment at `una`; an empty segment is
    /// acceptable anywhere in [una, end]; data must overlap the window and
    /// start at or before `end`.
    func acceptable(_ segSeq: UInt32, _ segLen: UInt32) -> Bool {
        if una == end { return segLen == 0 && segSeq == una }
        if segLen == 0 { return Seq.inRange(segSeq, una, end &+ 1) }
        return Seq.lessThan(una, segSeq &+ segLen) && !Seq.lessThan(end, segSeq)
    }

    /// FIN sent and acknowledged.
    public var closed: Bool { finSeen && Seq.lessThan(fin, una) }
}

/// The sequence numbers of one direction as a control block stores them:
/// the two flags of `TCPStream` live in the block's shared flag byte.
struct StreamSeq: Sendable, Hashable {
    var una: UInt32 = 0
    var nxt: UInt32 = 0
    var end: UInt32 = 0
    var fin: UInt32 = 0
}

/// The TCP control block of gVisor's `tcpconntrack`, as described in
/// gVisor's tcp_conntrack.go. Handlers are an enum instead of function pointers so the block
/// stays a plain value (serialisable, no indirection).
///
/// Stored in 36 bytes: the state bytes, one byte for both streams' flags,
/// and the two streams' sequence numbers (`inbound` and `outbound` are
/// assembled from them). Its coded form is the unpacked one.
public struct TCB: Sendable, Hashable, Codable {
    public enum Phase: UInt8, Sendable, Codable { case synSent, established }
    public enum FirstFin: UInt8, Sendable, Codable { case none, inbound, outbound }

    // `state` first: the expiry check reads it beside the connection lock.
    public private(set) var state = TrackerResult.drop
    public var phase = Phase.synSent
    public var firstFin = FirstFin.none
    /// `finSeen` and `rstSeen` of both streams (`StreamBit`).
    var streamFlags: UInt8 = 0
    var inSeq = StreamSeq()
    var outSeq = StreamSeq()

    enum StreamBit {
        static let finSeen: UInt8 = 1
        static let rstSeen: UInt8 = 2
        /// The outbound stream's bits are the inbound's shifted by this.
        static let outboundShift: UInt8 = 2
    }

    public init() {}

    /// A control block as saved (a restored table).
    public init(state: TrackerResult, phase: Phase, firstFin: FirstFin, inbound: TCPStream, outbound: TCPStream) {
        self.state = state; self.phase = phase; self.firstFin = firstFin
        self.inbound = inbound; self.outbound = outbound
    }

    @inline(__always)
    static func stream(_ q: StreamSeq, _ bits: UInt8) -> TCPStream {
        var s = TCPStream()
        s.una = q.una; s.nxt = q.nxt; s.end = q.end; s.fin = q.fin
        s.finSeen = bits & StreamBit.finSeen != 0
        s.rstSeen = bits & StreamBit.rstSeen != 0
        return s
    }

    @inline(__always)
    static func split(_ s: TCPStream) -> (StreamSeq, UInt8) {
        (StreamSeq(una: s.una, nxt: s.nxt, end: s.end, fin: s.fin),
         (s.finSeen ? StreamBit.finSeen : 0) | (s.rstSeen ? StreamBit.rstSeen : 0))
    }

    public var inbound: TCPStream {
        @inline(__always) get { Self.stream(inSeq, streamFlags & 3) }
        @inline(__always) set {
            let (q, b) = Self.split(newValue)
            inSeq = q
            streamFlags = (streamFlags & ~3) | b
        }
    }

    public var outbound: TCPStream {
        @inline(__always) get { Self.stream(outSeq, (streamFlags &>> StreamBit.outboundShift) & 3) }
        @inline(__always) set {
            let (q, b) = Self.split(newValue)
            outSeq = q
            streamFlags = (streamFlags & 3) | b &<< StreamBit.outboundShift
        }
    }

    enum CodingKeys: String, CodingKey { case state, phase, firstFin, inbound, outbound }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(state: try c.decode(TrackerResult.self, forKey: .state), phase: try c.decode(Phase.self, forKey: .phase),
                  firstFin: try c.decode(FirstFin.self, forKey: .firstFin),
                  inbound: try c.decode(TCPStream.self, forKey: .inbound),
                  outbound: try c.decode(TCPStream.self, forKey: .outbound))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(phase, forKey: .phase)
        try c.encode(firstFin, forKey: .firstFin)
        try c.encode(inbound, forKey: .inbound)
        try c.encode(outbound, forKey: .outbound)
    }

    /// gVisor `IsEmpty`: nothing recorded yet.
    public var isEmpty: Bool {
        streamFlags == 0 && inSeq == StreamSeq() && outSeq == StreamSeq() && firstFin == .none && state == .drop
    }

    /// Records the initial segment (normally the SYN) of the outbound side.
    @discardableResult
    public mutating func initialise(_ seg: TCPSegment) -> TrackerResult {
        phase = .synSent
        outSeq.una = seg.seq
        outSeq.nxt = seg.seq &+ seg.logicalLength
        outSeq.end = outSeq.nxt
        // The peer's ISN is unknown: keep its window in `end` until its SYN.
        inSeq.una = 0
        inSeq.nxt = 0
        inSeq.end = UInt32(seg.window)
        state = .connecting
        return state
    }

    @discardableResult
    public mutating func updateInbound(_ seg: TCPSegment) -> TrackerResult {
        let r: TrackerResult
        switch phase {
        case .synSent: r = synSentInbound(seg)
        case .established:
            // Update first: `adapt` must see the streams after this segment.
            var reply = inbound, original = outbound
            let u = Self.update(seg, reply: &reply, original: &original, firstFin: &firstFin, side: .inbound)
            inbound = reply; outbound = original
            r = adapt(u)
        }
        if r != .drop { state = r }
        return r
    }

    @discardableResult
    public mutating func updateOutbound(_ seg: TCPSegment) -> TrackerResult {
        let r: TrackerResult
        switch phase {
        case .synSent: r = synSentOutbound(seg)
        case .established:
            var reply = outbound, original = inbound
            let u = Self.update(seg, reply: &reply, original: &original, firstFin: &firstFin, side: .outbound)
            outbound = reply; inbound = original
            r = adapt(u)
        }
        if r != .drop { state = r }
        return r
    }

    /// gVisor `IsAlive`.
    public var isAlive: Bool {
        !inbound.rstSeen && !outbound.rstSeen && (!inbound.closed || !outbound.closed)
    }

    private func adapt(_ r: TrackerResult) -> TrackerResult {
        if r != .alive || !inbound.closed || !outbound.closed { return r }
        return firstFin == .outbound ? .closedBySelf : .closedByPeer
    }

    private mutating func synSentInbound(_ seg: TCPSegment) -> TrackerResult {
        let ackPresent = seg.flags.contains(.ack)
        let ack = seg.ack
        // An unacceptable ACK: ignore the segment.
        if ackPresent && !Seq.inRange(ack &- 1, outSeq.una, outSeq.nxt) { return .connecting }
        if seg.flags.contains(.rst) {
            if ackPresent { streamFlags |= StreamBit.rstSeen; return .reset }
            return .connecting
        }
        if !seg.flags.contains(.syn) { return .connecting }
        let irs = seg.seq
        inSeq.una = irs
        inSeq.nxt = irs &+ seg.logicalLength
        inSeq.end &+= irs
        outSeq.end = outSeq.una &+ UInt32(seg.window)
        if ackPresent {
            if Seq.lessThan(outSeq.una, ack) { outSeq.una = ack }
            let end = ack &+ UInt32(seg.window)
            if Seq.lessThan(outSeq.end, end) { outSeq.end = end }
        }
        phase = .established
        return .alive
    }

    private mutating func synSentOutbound(_ seg: TCPSegment) -> TrackerResult {
        // Only a retransmission of the original SYN is allowed out.
        if seg.flags != .syn || seg.seq != outSeq.una { return .drop }
        if UInt32(seg.window) > inSeq.end { inSeq.end = UInt32(seg.window) }
        return .connecting
    }

    private static func update(_ seg: TCPSegment, reply: inout TCPStream, original: inout TCPStream,
                               firstFin: inout FirstFin, side: FirstFin) -> TrackerResult {
        let s = seg.seq
        if !reply.acceptable(s, UInt32(seg.payloadLength)) { return .alive }
        if seg.flags.contains(.rst) { reply.rstSeen = true; return .reset }
        if !seg.flags.contains(.ack) || seg.flags.contains(.syn) { return .alive }
        let ack = seg.ack
        if Seq.lessThan(original.nxt, ack) { return .alive }
        if Seq.lessThan(original.una, ack) { original.una = ack }
        let wend = ack &+ UInt32(seg.window)
        if Seq.lessThan(original.end, wend) { original.end = wend }
        let end = s &+ seg.logicalLength
        if Seq.lessThan(reply.nxt, end) { reply.nxt = end }
        if seg.flags.contains(.fin) && !reply.finSeen {
            reply.finSeen = true
            reply.fin = end &- 1
            if firstFin == .none { firstFin = side }
        }
        return .alive
    }
}

/// Tracker state of a UDP "connection": replied once both directions were seen.
public struct UDPState: Sendable, Hashable, Codable {
    public var initialised = false
    public var replied = false
    public init() {}
}
