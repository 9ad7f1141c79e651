extension WorkloadReport {
    /// The phase boundaries as plot markers (the first phase's start is the
    /// axis itself).
    var phaseMarkers: [(x: Double, label: String)] {
        phases.map { ($0.startSeconds, $0.name) }
    }

    /// Per sample, the change of a counter since the previous sample, per
    /// virtual second.
    func ratePoints(_ counter: (Sample) -> UInt64) -> [(Double, Double)] {
        zip(series.dropFirst(), series).compactMap { s, prev in
            let dt = s.virtualSeconds - prev.virtualSeconds
            return dt > 0 ? (s.virtualSeconds, Double(counter(s) &- counter(prev)) / dt) : nil
        }
    }

    /// The run's plots over virtual time, each with the phase boundaries
    /// marked: live against garbage, the reaper's interval, p99 latency,
    /// and insert failures, drops and early drops per second. `title`
    /// names the run (design, workload).
    public func plots(title: String) -> [(name: String, svg: String)] {
        func plot(_ what: String, _ y: String, _ series: [SVGPlot.Series]) -> String {
            var p = SVGPlot(title: "\(what): \(title)", xLabel: "virtual time (s)", yLabel: y)
            p.series = series
            p.markers = phaseMarkers
            p.showPoints = false
            return p.render()
        }
        return [
            ("live-and-garbage.svg", plot("live and garbage", "connections", [
                .init(label: "live", points: series.map { ($0.virtualSeconds, Double($0.live)) }),
                .init(label: "garbage", points: series.map { ($0.virtualSeconds, Double($0.garbage)) }),
            ])),
            ("reaper-interval.svg", plot("reaper interval", "interval (ms)", [
                .init(label: "interval", points: series.map { ($0.virtualSeconds, $0.reaperIntervalSeconds * 1000) }),
            ])),
            ("latency-p99.svg", plot("p99 latency per sample", "ns", [
                .init(label: "p99", points: series.filter { $0.latencyP99Nanos > 0 }.map { ($0.virtualSeconds, $0.latencyP99Nanos) }),
            ])),
            ("drops.svg", plot("refused and evicted", "per virtual second", [
                .init(label: "insert_failed", points: ratePoints(\.insertFailed)),
                .init(label: "drop", points: ratePoints(\.drop)),
                .init(label: "early_drop", points: ratePoints(\.earlyDrop)),
            ])),
        ]
    }

    /// One figure over virtual time for several runs of the same workload
    /// (`compare --workload --plots`): garbage or the reaper's interval,
    /// one line per label.
    public static func overlay(_ runs: [(label: String, report: WorkloadReport)], title: String, yLabel: String,
                               _ y: (Sample) -> Double) -> String {
        var p = SVGPlot(title: title, xLabel: "virtual time (s)", yLabel: yLabel)
        p.series = runs.map { r in .init(label: r.label, points: r.report.series.map { ($0.virtualSeconds, y($0)) }) }
        p.markers = runs.first?.report.phaseMarkers ?? []
        p.showPoints = false
        return p.render()
    }

    /// The series as CSV, one row per sample.
    public var csv: String {
        var out = "virtual_s,phase,packets,created,removed,live,garbage,insert_failed,drop,early_drop,reaper_passes,reaper_interval_s,reaper_cpu_s,latency_p99_ns,rss_bytes,table_s\n"
        for s in series {
            out += "\(s.virtualSeconds),\(csvField(phases[s.phase].name)),\(s.packets),\(s.created),\(s.removed),\(s.live),\(s.garbage),"
                + "\(s.insertFailed),\(s.drop),\(s.earlyDrop),\(s.reaperPasses),\(s.reaperIntervalSeconds),\(s.reaperCPUSeconds),"
                + "\(s.latencyP99Nanos),\(s.rssBytes),\(s.tableSeconds)\n"
        }
        return out
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingAll("\"", "\"\"") + "\""
}
