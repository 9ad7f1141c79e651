import ConnTrack

extension SweepResult {
    /// The plots: each figure against each setting (the other settings at
    /// their middle values, one line per worker count), chain length
    /// against load factor, contention against workers, and the middle
    /// point's reaper interval and live connections over virtual time.
    func plots() -> [(name: String, contents: String)] {
        var out: [(String, String)] = []
        let axes = sweep.axes
        let maxT = sweep.threads.max()!
        for (i, a) in axes.enumerated() {
            let others = axes.indices.filter { $0 != i }
            let along = points.filter { p in others.allSatisfy { p.settings[$0].value == axes[$0].values[axes[$0].values.count / 2] } }
            let byThreads = sweep.threads.map { t in ("\(t) worker(s)", along.filter { $0.threads == t }) }
            let fixed = others.map { "\(axes[$0].name) \(axes[$0].values[axes[$0].values.count / 2])" }.joined(separator: ", ")
            let suffix = fixed.isEmpty ? "" : ", " + fixed
            out.append(("throughput-vs-\(a.name).svg",
                        plot("Throughput vs \(a.name)\(suffix)", a, .packetsPerSecond, byThreads, bars: true)))
            if i == 0 {
                out.append(("p99-latency-vs-\(a.name).svg", plot("p99 latency vs \(a.name)\(suffix)", a, .latencyP99, byThreads, bars: true)))
                // Expired connections kept, one line per value of the second
                // setting (the policy's, when the first is the design's).
                if axes.count > 1 {
                    let b = axes[1]
                    let rest = axes.indices.filter { $0 > 1 }
                    let groups = b.values.map { v in
                        ("\(b.name) \(v)", points.filter { p in p.threads == maxT && p.settings[1].value == v
                            && rest.allSatisfy { p.settings[$0].value == axes[$0].values[axes[$0].values.count / 2] } })
                    }
                    out.append(("expired-kept-vs-\(a.name).svg", plot("Expired connections kept at the end", a, .expiredStillLinked, groups)))
                }
            }
        }
        if sweep.base.designType?.traits.slotName != nil {
            var chain = SVGPlot(title: "Chain walked per lookup vs load factor (\(what))", xLabel: "tuples per slot at end",
                                yLabel: "tuples walked", logX: true)
            let atMax = points.filter { $0.threads == maxT }
            chain.series = [Metric.chainP99, .chainMean].map { m in
                .init(label: m == .chainP99 ? "p99" : "mean", points: atMax.compactMap { p in
                    guard let x = p.median(.loadFactor), let y = p.median(m), x > 0 else { return nil }
                    return (x, y)
                })
            }
            out.append(("chain-vs-load-factor.svg", chain.render()))
        }
        if sweep.threads.count > 1, let g = axes.last {
            let rest = axes.indices.dropLast()
            let groups = g.values.map { v in
                ("\(g.name) \(v)", points.filter { p in p.settings.last?.value == v
                    && rest.allSatisfy { p.settings[$0].value == axes[$0].values[axes[$0].values.count / 2] } })
            }
            var p = SVGPlot(title: "Contended locks vs workers (\(what))", xLabel: "workers", yLabel: "% contended")
            for (label, pts) in groups {
                p.series.append(.init(label: label, points: pts.compactMap { q in q.median(.contendedPercent).map { (Double(q.threads), $0) } }))
            }
            out.append(("contention-vs-threads.svg", p.render()))
        }
        let at = zip(axes, seriesSettings).map { "\($0.name) \($1)" }.joined(separator: ", ")
        var interval = SVGPlot(title: "Reaper interval, \(at) (\(what), 1 run)", xLabel: "virtual seconds", yLabel: "interval (ms)")
        interval.series = [.init(label: "interval", points: series.map { ($0.virtualSeconds, $0.reaperInterval * 1000) })]
        out.append(("reaper-interval-over-time.svg", interval.render()))
        var live = SVGPlot(title: "Live connections, \(at) (\(what), 1 run)", xLabel: "virtual seconds", yLabel: "connections")
        live.series = [.init(label: "live", points: series.map { ($0.virtualSeconds, Double($0.live)) })]
        out.append(("live-over-time.svg", live.render()))
        return out
    }

    /// A figure against one setting, one line per group, with min … max
    /// error bars when asked; log x-axis when the values span 10× or more.
    private func plot(_ title: String, _ axis: SweepAxis, _ m: Metric, _ groups: [(String, [SweepPoint])], bars: Bool = false) -> String {
        let lo = axis.values.min()!, hi = axis.values.max()!
        var p = SVGPlot(title: "\(title) (\(what))", xLabel: axis.name, yLabel: m.unit, logX: lo > 0 && hi >= 10 * lo)
        for (label, pts) in groups {
            p.series.append(.init(label: label, points: pts.compactMap { q in
                guard let x = q.value(axis.name), let s = q.spread(m) else { return nil }
                return SVGPlot.Point(Double(x), s.median, low: bars ? s.min : nil, high: bars ? s.max : nil)
            }))
        }
        return p.render()
    }
}

extension Metric: Equatable {
    public static func == (a: Metric, b: Metric) -> Bool { a.id == b.id }
}
