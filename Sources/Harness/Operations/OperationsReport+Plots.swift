extension OperationsReport {
    /// One plot per operation: the workers' packets per millisecond from
    /// 50 ms before it to 50 ms after, its start and end marked. Named
    /// `op-N-KIND.svg`, N counting from 1 in the order they ran.
    public func plots(title: String) -> [(name: String, svg: String)] {
        operations.enumerated().map { k, o in
            var p = SVGPlot(title: "\(o.spec), \(title)", xLabel: "ms from the operation's start", yLabel: "packets per ms")
            p.showPoints = false
            let points = o.perMillisecond.enumerated().map { (o.perMillisecondStartOffsetMillis + Double($0.offset), Double($0.element)) }
            p.series = [SVGPlot.Series(label: "packets per ms, all workers", points: points)]
            p.markers = [(0, "start"), (o.durationMillis, "end")]
            return ("op-\(k + 1)-\(o.kind).svg", p.render())
        }
    }
}
