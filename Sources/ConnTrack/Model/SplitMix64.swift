/// SplitMix64 (Steele, Lea and Flood): a 64-bit state stepped by the golden
/// gamma and mixed. The one definition for every seeded stream in the
/// package (hash keys, the flow generator's seeding, test and benchmark
/// inputs): deterministic reports depend on its exact sequence.
public struct SplitMix64: Sendable {
    public var state: UInt64

    @inlinable
    public init(seed: UInt64) { state = seed }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}
