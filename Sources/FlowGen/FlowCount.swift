import ConnTrack
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The distinct flows of a capture, estimated in fixed memory: HyperLogLog
/// (Flajolet, Fusy, Gandouet and Meunier, 2007) with 2^16 one-byte
/// registers, a standard error of about 0.4 %, and linear counting below
/// 2.5 times the registers (Heule, Nunkesser and Hall, 2013), where it is
/// near exact. A capture of any size is checked in 64 KiB, where a set of
/// its flows could take gigabytes.
///
/// A flow is a 5-tuple with its two endpoints unordered, so both
/// directions of a connection count once. A 5-tuple names one connection
/// at a time, so no more connections than its flows are live at once
/// (NAT aside): what a table is sized for.
struct FlowCount: ~Copyable {
    static let bits = 16
    /// Per register, the largest rank seen (leading zeros + 1) of the
    /// hashes whose top bits chose it. Raw memory, not an array: an add is
    /// on the check's per-packet path, and an array's write checks its
    /// bounds and its uniqueness first.
    private let registers: UnsafeMutableBufferPointer<UInt8>

    init() {
        registers = .allocate(capacity: 1 << Self.bits)
        registers.initialize(repeating: 0)
    }

    deinit { registers.deallocate() }

    /// One endpoint: a 128-bit product of its address halves, folded (one
    /// multiply; the final mix spreads what it leaves).
    @inline(__always)
    static func endpoint(_ a: IPAddress, _ port: UInt16) -> UInt64 {
        let r = (a.hi ^ 0x243F_6A88_85A3_08D3).multipliedFullWidth(by: a.lo ^ 0x1319_8A2E_0370_7344 ^ (UInt64(port) &* 0x9E37_79B9_7F4A_7C15))
        return r.high ^ r.low
    }

    /// A flow's hash: the endpoints are combined by addition, so a tuple
    /// and its reverse hash alike; SplitMix64's step then moves every bit
    /// of the sum into the register index and the rank.
    @inline(__always)
    static func hash(_ id: TupleID) -> UInt64 {
        var mix = SplitMix64(seed: (endpoint(id.srcAddr, id.srcPort) &+ endpoint(id.dstAddr, id.dstPort))
                                   ^ (UInt64(id.transProto.rawValue) << 16 | UInt64(id.netProto.rawValue)))
        return mix.next()
    }

    @inline(__always)
    mutating func add(_ id: TupleID) {
        let h = Self.hash(id)
        let i = Int(truncatingIfNeeded: h >> UInt64(64 - Self.bits))
        let rank = UInt8(truncatingIfNeeded: min((h << UInt64(Self.bits)).leadingZeroBitCount, 64 - Self.bits) + 1)
        if rank > registers[i] { registers[i] = rank }
    }

    /// The estimated count (0 when nothing was added).
    var estimate: Int {
        let m = Double(registers.count)
        var sum = 0.0, zeros = 0
        for r in registers {
            sum += 1 / Double(UInt64(1) << UInt64(r))
            if r == 0 { zeros += 1 }
        }
        if zeros == registers.count { return 0 }
        let raw = 0.7213 / (1 + 1.079 / m) * m * m / sum
        // A 64-bit hash needs no correction for large counts.
        let e = raw <= 2.5 * m && zeros > 0 ? m * log(m / Double(zeros)) : raw
        return Int(e.rounded())
    }
}
