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
        // The high word of the 128-bit product: what UInt128 arithmetic
        // gives, without its generic shift (a runtime call per draw).
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
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

// The workloads' math: the same series as above, but with the binary
// exponent taken from the representation instead of halving in a loop (a
// lifetime is drawn per flow, and a gap per arrival). Written out so that
// a seed gives the same stream on every machine, whatever its libm.

/// ln x for finite x > 0 (normal, not subnormal). The exponent and the
/// significand come from the bits; ln m = 2 atanh((m − 1)/(m + 1)), whose
/// odd powers are summed with their divisors precomputed. Builds the
/// tables of `lnFast`.
func lnSeries(_ x: Double) -> Double {
    let bits = x.bitPattern
    let e = Double(Int((bits >> 52) & 0x7ff) - 1023)
    let m = Double(bitPattern: (bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)
    let t = (m - 1) / (m + 1), t2 = t * t
    // m in [1, 2): t < 1/3, so terms to t^41 are past double precision.
    var p = 1 / 41.0
    p = p * t2 + 1 / 39.0; p = p * t2 + 1 / 37.0; p = p * t2 + 1 / 35.0; p = p * t2 + 1 / 33.0
    p = p * t2 + 1 / 31.0; p = p * t2 + 1 / 29.0; p = p * t2 + 1 / 27.0; p = p * t2 + 1 / 25.0
    p = p * t2 + 1 / 23.0; p = p * t2 + 1 / 21.0; p = p * t2 + 1 / 19.0; p = p * t2 + 1 / 17.0
    p = p * t2 + 1 / 15.0; p = p * t2 + 1 / 13.0; p = p * t2 + 1 / 11.0; p = p * t2 + 1 / 9.0
    p = p * t2 + 1 / 7.0; p = p * t2 + 1 / 5.0; p = p * t2 + 1 / 3.0; p = p * t2 + 1
    return 2 * t * p + e * 0.693_147_180_559_945_3
}

/// e^x, for |x| < 700: 2^k e^r with r in [0, ln 2), the power of two
/// written into the bits. Builds the table of `expFast`.
func expSeries(_ x: Double) -> Double {
    let k = (x / 0.693_147_180_559_945_3).rounded(.down)
    let r = x - k * 0.693_147_180_559_945_3
    // Horner over the Taylor series to r^19/19!: 1 + r(1 + r/2(1 + r/3(…))).
    var s = 1 + r * (1 / 19.0)
    s = 1 + s * r * (1 / 18.0)
    s = 1 + s * r * (1 / 17.0)
    s = 1 + s * r * (1 / 16.0)
    s = 1 + s * r * (1 / 15.0)
    s = 1 + s * r * (1 / 14.0)
    s = 1 + s * r * (1 / 13.0)
    s = 1 + s * r * (1 / 12.0)
    s = 1 + s * r * (1 / 11.0)
    s = 1 + s * r * (1 / 10.0)
    s = 1 + s * r * (1 / 9.0)
    s = 1 + s * r * (1 / 8.0)
    s = 1 + s * r * (1 / 7.0)
    s = 1 + s * r * (1 / 6.0)
    s = 1 + s * r * (1 / 5.0)
    s = 1 + s * r * (1 / 4.0)
    s = 1 + s * r * (1 / 3.0)
    s = 1 + s * r * (1 / 2.0)
    s = 1 + s * r * (1 / 1.0)
    return s * Double(bitPattern: UInt64(Int(k) + 1023) << 52)
}

// The same two functions as a workload draws them, per flow and per
// arrival: a table and a short polynomial each, instead of twenty terms in
// one chain of dependent multiplications (which was most of a new flow's
// time). Still portable: the tables are built with the series above, and
// every step is IEEE double arithmetic in a fixed order.

/// The tables: for ln, per top seven bits j of a significand, 1/c_j for
/// c_j = 1 + (j + 1/2)/128, then −ln(1/c_j); for exp, 2^(j/64), j < 64.
/// Written once, before any read; never changed (so shared unsafely).
nonisolated(unsafe) private let mathTables: UnsafePointer<Double> = {
    let p = UnsafeMutablePointer<Double>.allocate(capacity: 320)
    for j in 0..<128 {
        let inv = 1 / (1 + (Double(j) + 0.5) / 128)
        p[j] = inv
        p[128 + j] = -lnSeries(inv)
    }
    for j in 0..<64 { p[256 + j] = expSeries(Double(j) * (0.693_147_180_559_945_3 / 64)) }
    return UnsafePointer(p)
}()

/// ln x for finite x > 0 (normal, not subnormal): with x = 2^e m, m in
/// [1, 2), ln m = ln c_j + ln(1 + r) for r = m/c_j − 1, |r| < 2^−8, whose
/// series is past double precision at r^7/7.
@inline(__always)
func lnFast(_ x: Double) -> Double {
    let bits = x.bitPattern
    let e = Double(Int((bits >> 52) & 0x7ff) - 1023)
    let j = Int((bits >> 45) & 127)
    let m = Double(bitPattern: (bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)
    let t = mathTables
    let r = m * t[j] - 1
    let q = r * r * (-1 / 2.0 + r * (1 / 3.0 + r * (-1 / 4.0 + r * (1 / 5.0 + r * (-1 / 6.0 + r * (1 / 7.0))))))
    return e * 0.693_147_180_559_945_3 + t[128 + j] + (r + q)
}

/// e^x, for |x| < 700: 2^(k/64) e^r with k the nearest integer to
/// 64x/ln 2 and |r| ≤ ln 2/128, whose series is past double precision at
/// r^6/720; 2^(k/64) from the table and the exponent's bits.
@inline(__always)
func expFast(_ x: Double) -> Double {
    // The nearest integer, without a libm call: adding 1.5 · 2^52 leaves
    // no fraction bits (round to nearest, even on a tie).
    let big = 6_755_399_441_055_744.0
    let kd = (x * (64 / 0.693_147_180_559_945_3) + big) - big
    // ln 2/64 in two parts, so that kd × the first is exact.
    let r = (x - kd * 0.010_830_424_667_801_708) - kd * 2.844_743_747_662_728_5e-11
    let k = Int(kd)
    let p = 1 + r * (1 + r * (1 / 2.0 + r * (1 / 6.0 + r * (1 / 24.0 + r * (1 / 120.0 + r * (1 / 720.0))))))
    return mathTables[256 + (k & 63)] * p * Double(bitPattern: UInt64((k >> 6) + 1023) << 52)
}

extension Xoshiro {
    /// A standard normal draw (Marsaglia's polar method).
    @inline(__always)
    public mutating func normal() -> Double {
        while true {
            let u = 2 * unit() - 1, v = 2 * unit() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 { return u * (-2 * lnFast(s) / s).squareRoot() }
        }
    }

    /// An exponential draw with mean 1 (never 0).
    @inline(__always)
    public mutating func exponential() -> Double { -lnFast(1 - unit()) }
}
