/// Mean ± σ and min–max of a figure over repeats, as hyperfine reports them.
public struct Spread: Codable, Sendable, Equatable {
    public var n: Int
    public var mean: Double
    /// Sample standard deviation (0 for one value).
    public var stddev: Double
    public var min: Double
    public var max: Double
    public var median: Double

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a spread needs at least one value")
        let v = values.sorted()
        n = v.count
        mean = v.reduce(0, +) / Double(n)
        let m = mean
        stddev = n > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : 0
        min = v.first!
        max = v.last!
        median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    }

    /// "1.23 M ± 0.05 M (1.10 M … 1.31 M)"-style text, with `unit` scaling.
    public func text(scale: Double = 1, digits: Int = 2, unit: String = "") -> String {
        let f = { (x: Double) in ReportFormatter.f(x / scale, digits) + unit }
        return n == 1 ? f(mean) : "\(f(mean)) ± \(f(stddev)) (\(f(min)) … \(f(max)))"
    }

    /// Whether the min–max ranges of two spreads overlap.
    public func overlaps(_ o: Spread) -> Bool { min <= o.max && o.min <= max }
}
