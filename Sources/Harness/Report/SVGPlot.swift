/// Minimal SVG line charts for sweep results (no dependencies).
public struct SVGPlot {
    public struct Series {
        public var label: String
        public var points: [(Double, Double)]
        public init(label: String, points: [(Double, Double)]) { self.label = label; self.points = points }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logX = false
    public var series: [Series] = []

    public init(title: String, xLabel: String, yLabel: String, logX: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logX = logX
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if v == v.rounded() && a < 1e6 { return String(Int(v)) }
        if a >= 1e9 { return trim(v / 1e9) + "G" }
        if a >= 1e6 { return trim(v / 1e6) + "M" }
        if a >= 1e4 { return trim(v / 1e3) + "k" }
        return trim(v)
    }
    static func trim(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
    static func esc(_ s: String) -> String {
        s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }

    public func render(width: Double = 640, height: Double = 400) -> String {
        let l = 70.0, r = 150.0, t = 40.0, b = 50.0
        let pts = series.flatMap(\.points)
        func tx(_ x: Double) -> Double { logX ? log2_(max(x, 1e-9)) : x }
        let xs = pts.map { tx($0.0) }, ys = pts.map(\.1)
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1
        var y0 = min(0, ys.min() ?? 0), y1 = ys.max() ?? 1
        if x1 == x0 { x0 -= 1; x1 += 1 }
        if y1 == y0 { y1 = y0 + 1 }
        y1 *= 1.05
        let pw = width - l - r, ph = height - t - b
        func px(_ x: Double) -> Double { l + (tx(x) - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { t + ph - (y - y0) / (y1 - y0) * ph }
        var o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        o += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(Self.esc(title))</text>\n"
        o += "<line x1=\"\(l)\" y1=\"\(t + ph)\" x2=\"\(l + pw)\" y2=\"\(t + ph)\" stroke=\"black\"/>\n"
        o += "<line x1=\"\(l)\" y1=\"\(t)\" x2=\"\(l)\" y2=\"\(t + ph)\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let yv = y0 + (y1 - y0) * Double(k) / 4
            o += "<line x1=\"\(l - 4)\" y1=\"\(py(yv))\" x2=\"\(l + pw)\" y2=\"\(py(yv))\" stroke=\"#ddd\"/>"
            o += "<text x=\"\(l - 6)\" y=\"\(py(yv) + 4)\" text-anchor=\"end\">\(Self.fmt(yv))</text>\n"
        }
        let distinct = Array(Set(pts.map(\.0))).sorted()
        // Few distinct x values (grid points): label each. Many (a time
        // series): six evenly spaced ticks.
        let xticks = distinct.count <= 12 || logX
            ? distinct
            : (0...5).map { (distinct.first! + (distinct.last! - distinct.first!) * Double($0) / 5).rounded() }
        for xv in xticks {
            o += "<text x=\"\(px(xv))\" y=\"\(t + ph + 16)\" text-anchor=\"middle\">\(Self.fmt(xv))</text>\n"
        }
        o += "<text x=\"\(l + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(Self.esc(xLabel))</text>\n"
        o += "<text transform=\"translate(16,\(t + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.esc(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let c = Self.colors[i % Self.colors.count]
            let path = s.points.sorted { $0.0 < $1.0 }.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            o += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for p in s.points { o += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"2.5\" fill=\"\(c)\"/>" }
            o += "\n<rect x=\"\(l + pw + 12)\" y=\"\(t + 18 * Double(i))\" width=\"12\" height=\"3\" fill=\"\(c)\"/>"
            o += "<text x=\"\(l + pw + 30)\" y=\"\(t + 18 * Double(i) + 5)\">\(Self.esc(s.label))</text>\n"
        }
        o += "</svg>\n"
        return o
    }
}

func log2_(_ x: Double) -> Double {
    var m = x, e = 0.0
    while m >= 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    // log2(m) for m in [1, 2) by series on ln.
    let t = (m - 1) / (m + 1), t2 = t * t
    var term = t, sum = 0.0, k = 1.0
    for _ in 0..<20 { sum += term / k; term *= t2; k += 2 }
    return e + 2 * sum / 0.693_147_180_559_945_3
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
