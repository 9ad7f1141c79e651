import ConnTrack

/// xoshiro256** seeded through SplitMix64: fast, and the same stream on
/// every machine for the same seed (Swift's SystemRandomNumberGenerator is
/// neither seedable nor portable).
public struct Xoshiro: RandomNumberGenerator, Sendable {
    var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = SplitMix64(seed: seed)
        s0 = x.next(); s1 = x.next(); s2 = x.next(); s3 = x.next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in 0..<n without modulo bias worth caring about (n ≪ 2^64).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: (UInt128(next()) * UInt128(UInt64(n))) >> 64)
    }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Zipf(s) over 0..<n by inverse transform on a precomputed CDF.
public struct Zipf: Sendable {
    let cdf: [Double]
    public init(n: Int, s: Double) {
        var acc = 0.0
        var c = [Double](repeating: 0, count: n)
        for i in 0..<n { acc += 1 / pow_(Double(i + 1), s); c[i] = acc }
        cdf = c.map { $0 / acc }
    }
    public func sample(_ r: inout Xoshiro) -> Int {
        let u = r.unit()
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// x^y for positive x without Foundation.
func pow_(_ x: Double, _ y: Double) -> Double { exp_(y * log_(x)) }
func log_(_ x: Double) -> Double {
    // Reduce to m * 2^e with m in [1, 2), then atanh series.
    var m = x, e = 0.0
    while m >= 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    let t = (m - 1) / (m + 1), t2 = t * t
    var term = t, sum = 0.0, k = 1.0
    for _ in 0..<30 { sum += term / k; term *= t2; k += 2 }
    return 2 * sum + e * 0.693_147_180_559_945_3
}
func exp_(_ x: Double) -> Double {
    let k = (x / 0.693_147_180_559_945_3).rounded(.down)
    let r = x - k * 0.693_147_180_559_945_3
    var term = 1.0, sum = 1.0
    for i in 1..<25 { term *= r / Double(i); sum += term }
    var v = sum
    if k > 0 { for _ in 0..<Int(k) { v *= 2 } } else if k < 0 { for _ in 0..<Int(-k) { v /= 2 } }
    return v
}
