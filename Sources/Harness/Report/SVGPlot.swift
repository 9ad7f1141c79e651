#if canImport(Glibc)
import Glibc
#endif

/// Minimal SVG line charts for sweep results (no dependencies): round tick
/// values (1, 2, 5 × 10^k) on linear and log axes, and error bars.
public struct SVGPlot {
    public struct Point: Sendable {
        public var x: Double
        public var y: Double
        /// Error bar (min … max over repeats); nil: none.
        public var low: Double?
        public var high: Double?
        public init(_ x: Double, _ y: Double, low: Double? = nil, high: Double? = nil) {
            self.x = x; self.y = y; self.low = low; self.high = high
        }
    }

    public struct Series {
        public var label: String
        public var points: [Point]
        public init(label: String, points: [Point]) { self.label = label; self.points = points }
        public init(label: String, points: [(Double, Double)]) { self.label = label; self.points = points.map { Point($0.0, $0.1) } }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX = false
    public var series: [Series] = []
    /// Vertical lines across the plot at these x values, labelled at the
    /// top (a workload's phase boundaries).
    public var markers: [(x: Double, label: String)] = []
    /// A dot at every point (off for dense time series).
    public var showPoints = true

    public init(title: String, xLabel: String, yLabel: String, logX: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logX = logX
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// The 1-2-5 step that puts about `count` ticks over `span`.
    static func niceStep(_ span: Double, count: Double = 5) -> Double {
        let raw = max(span, 1e-300) / count
        let mag = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * mag >= raw { return m * mag }
        return 10 * mag
    }

    /// Linear ticks: multiples of a 1-2-5 step covering [lo, hi].
    static func linearTicks(_ lo: Double, _ hiIn: Double, integers: Bool = false) -> (ticks: [Double], step: Double) {
        // A flat series (all zeros, say) still gets a readable axis.
        let hi = hiIn - lo < max(abs(lo), 1) * 1e-9 ? lo + max(abs(lo), 1) : hiIn
        // Counts (workers) never get fractional ticks.
        let step = integers ? max(1, niceStep(hi - lo)) : niceStep(hi - lo)
        let first = floor(lo / step) * step, last = ceil(hi / step) * step
        var t: [Double] = []
        var v = first
        while v <= last + step / 2 { t.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return (t, step)
    }

    /// Log ticks: 1, 2, 5 × 10^k within [lo, hi] (thinned to 1 × 10^k when
    /// the range spans many decades).
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        var t: [Double] = []
        let mantissas: [Double] = log10(hi / lo) > 4 ? [1] : [1, 2, 5]
        var e = floor(log10(lo))
        while pow(10, e) <= hi * 1.0001 {
            for m in mantissas { let v = m * pow(10, e); if v >= lo * 0.9999 && v <= hi * 1.0001 { t.append(v) } }
            e += 1
        }
        return t
    }

    /// A tick label: k/M/G for large values, as many decimals as the step needs.
    static func fmt(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        for (scale, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] where a >= scale {
            return decimal(v / scale, decimals: max(0, -Int(floor(log10(step / scale) + 1e-9)))) + suffix
        }
        return decimal(v, decimals: max(0, -Int(floor(log10(step) + 1e-9))))
    }

    static func decimal(_ v: Double, decimals: Int) -> String {
        let d = min(decimals, 9)
        var p = 1.0
        for _ in 0..<d { p *= 10 }
        let r = (v * p).rounded() / p
        if d == 0 { return String(Int64(r)) }
        var s = String(Int64(r.rounded(.towardZero)))
        if r < 0 && s.first != "-" { s = "-" + s }
        var frac = String(Int64((abs(r) * p).rounded()) % Int64(p))
        while frac.count < d { frac = "0" + frac }
        return s + "." + frac
    }

    static func esc(_ s: String) -> String {
        s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }

    public func render(width: Double = 680, height: Double = 420) -> String {
        let l = 78.0, r = 160.0, t = 48.0, b = 50.0
        let pts = series.flatMap(\.points)
        let ys = pts.flatMap { [$0.y, $0.low ?? $0.y, $0.high ?? $0.y] }
        let (yt, ystep) = Self.linearTicks(min(0, ys.min() ?? 0), max(ys.max() ?? 1, (ys.min() ?? 0) + 1e-12))
        let y0 = yt.first!, y1 = yt.last! == y0 ? y0 + 1 : yt.last!
        let xsRaw = pts.map(\.x)
        var xt: [Double]
        var xstep = 1.0
        if logX {
            let lo = max(xsRaw.filter { $0 > 0 }.min() ?? 1, 1e-12), hi = max(xsRaw.max() ?? 10, lo * 1.0001)
            xt = Self.logTicks(lo, hi)
            if xt.count < 2 { xt = [lo, hi] }
        } else {
            (xt, xstep) = Self.linearTicks(xsRaw.min() ?? 0, max(xsRaw.max() ?? 1, (xsRaw.min() ?? 0) + 1e-12),
                                           integers: !xsRaw.isEmpty && xsRaw.allSatisfy { $0 == $0.rounded() })
        }
        func tx(_ x: Double) -> Double { logX ? log10(max(x, 1e-12)) : x }
        var x0 = tx(logX ? min(xt.first!, xsRaw.min() ?? xt.first!) : xt.first!)
        var x1 = tx(logX ? max(xt.last!, xsRaw.max() ?? xt.last!) : xt.last!)
        if x1 == x0 { x0 -= 1; x1 += 1 }
        let pw = width - l - r, ph = height - t - b
        func px(_ x: Double) -> Double { l + (tx(x) - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { t + ph - (y - y0) / (y1 - y0) * ph }
        func n(_ v: Double) -> String { Self.decimal(v, decimals: 1) }
        var o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        o += "<text x=\"\(n(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(Self.esc(title))</text>\n"
        o += "<line x1=\"\(n(l))\" y1=\"\(n(t + ph))\" x2=\"\(n(l + pw))\" y2=\"\(n(t + ph))\" stroke=\"black\"/>\n"
        o += "<line x1=\"\(n(l))\" y1=\"\(n(t))\" x2=\"\(n(l))\" y2=\"\(n(t + ph))\" stroke=\"black\"/>\n"
        for yv in yt {
            o += "<line x1=\"\(n(l - 4))\" y1=\"\(n(py(yv)))\" x2=\"\(n(l + pw))\" y2=\"\(n(py(yv)))\" stroke=\"#ddd\"/>"
            o += "<text x=\"\(n(l - 6))\" y=\"\(n(py(yv) + 4))\" text-anchor=\"end\">\(Self.fmt(yv, step: ystep))</text>\n"
        }
        for xv in xt {
            let step = logX ? pow(10, floor(log10(xv))) : xstep
            o += "<line x1=\"\(n(px(xv)))\" y1=\"\(n(t + ph))\" x2=\"\(n(px(xv)))\" y2=\"\(n(t + ph + 4))\" stroke=\"black\"/>"
            o += "<text x=\"\(n(px(xv)))\" y=\"\(n(t + ph + 17))\" text-anchor=\"middle\">\(Self.fmt(xv, step: step))</text>\n"
        }
        for m in markers where tx(m.x) >= x0 && tx(m.x) <= x1 {
            let x = n(px(m.x))
            o += "<line x1=\"\(x)\" y1=\"\(n(t))\" x2=\"\(x)\" y2=\"\(n(t + ph))\" stroke=\"#888\" stroke-dasharray=\"4,3\"/>"
            o += "<text x=\"\(n(px(m.x) + 3))\" y=\"\(n(t + 11))\" font-size=\"10\" fill=\"#555\">\(Self.esc(m.label))</text>\n"
        }
        o += "<text x=\"\(n(l + pw / 2))\" y=\"\(n(height - 12))\" text-anchor=\"middle\">\(Self.esc(xLabel + (logX ? " (log scale)" : "")))</text>\n"
        o += "<text transform=\"translate(16,\(n(t + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.esc(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let c = Self.colors[i % Self.colors.count]
            let path = s.points.sorted { $0.x < $1.x }.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
            o += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for p in s.points {
                if let lo = p.low, let hi = p.high, hi > lo {
                    let x = n(px(p.x))
                    o += "<line x1=\"\(x)\" y1=\"\(n(py(lo)))\" x2=\"\(x)\" y2=\"\(n(py(hi)))\" stroke=\"\(c)\"/>"
                    o += "<line x1=\"\(n(px(p.x) - 4))\" y1=\"\(n(py(lo)))\" x2=\"\(n(px(p.x) + 4))\" y2=\"\(n(py(lo)))\" stroke=\"\(c)\"/>"
                    o += "<line x1=\"\(n(px(p.x) - 4))\" y1=\"\(n(py(hi)))\" x2=\"\(n(px(p.x) + 4))\" y2=\"\(n(py(hi)))\" stroke=\"\(c)\"/>"
                }
                if showPoints { o += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"2.5\" fill=\"\(c)\"/>" }
            }
            o += "\n<rect x=\"\(n(l + pw + 12))\" y=\"\(n(t + 18 * Double(i)))\" width=\"12\" height=\"3\" fill=\"\(c)\"/>"
            o += "<text x=\"\(n(l + pw + 30))\" y=\"\(n(t + 18 * Double(i) + 5))\">\(Self.esc(s.label))</text>\n"
        }
        o += "</svg>\n"
        return o
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
