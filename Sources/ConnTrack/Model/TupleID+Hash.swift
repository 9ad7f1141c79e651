/// The seed's bucket hash: Jenkins one-at-a-time (32 bit), started from a
/// per-table seed, over srcAddr bytes, dstAddr bytes, then srcPort, dstPort,
/// transport protocol and network protocol as 2 little-endian bytes each.
/// Bit-compatible with gVisor's `jenkins.Sum32` as used by `ct.bucket`.
public enum JenkinsHash {
    @inlinable @inline(__always)
    static func mix(_ h: inout UInt32, _ byte: UInt8) {
        h &+= UInt32(byte)
        h &+= h &<< 10
        h ^= h &>> 6
    }

    @inlinable @inline(__always)
    static func mix16LE(_ h: inout UInt32, _ v: UInt16) {
        mix(&h, UInt8(truncatingIfNeeded: v))
        mix(&h, UInt8(truncatingIfNeeded: v &>> 8))
    }

    @inlinable @inline(__always)
    static func mixAddress(_ h: inout UInt32, _ a: IPAddress, length: Int) {
        // Unrolled per word: avoids a loop-carried shift computation.
        var w = a.hi
        for _ in 0..<min(length, 8) { mix(&h, UInt8(truncatingIfNeeded: w &>> 56)); w &<<= 8 }
        if length > 8 {
            w = a.lo
            for _ in 0..<8 { mix(&h, UInt8(truncatingIfNeeded: w &>> 56)); w &<<= 8 }
        }
    }

    /// The finalised 32-bit hash of `id` under `seed`.
    @inlinable
    public static func hash(_ id: TupleID, seed: UInt32) -> UInt32 {
        var h = seed
        let len = id.addressLength
        mixAddress(&h, id.srcAddr, length: len)
        mixAddress(&h, id.dstAddr, length: len)
        mix16LE(&h, id.srcPort)
        mix16LE(&h, id.dstPort)
        mix16LE(&h, UInt16(id.transProto.rawValue))
        mix16LE(&h, id.netProto.rawValue)
        h &+= h &<< 3
        h ^= h &>> 11
        h &+= h &<< 15
        return h
    }

    /// `int(h.Sum32()) % len(buckets)`: Go's int is 64 bit, so never negative.
    @inlinable
    public static func bucket(_ id: TupleID, seed: UInt32, count: Int) -> Int {
        Int(hash(id, seed: seed)) % count
    }
}
