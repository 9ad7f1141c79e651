/// The components' traffic in memory of its own, so that a new flow reads
/// its component's parameters in place: taken out of the component's
/// kind (or an array) the 200-byte struct was copied per flow.
/// Immutable: copies of a generator share it.
final class TrafficTable {
    let base: UnsafeMutablePointer<Workload.Traffic>
    let isTraffic: [Bool]

    init(_ traffic: [Workload.Traffic?]) {
        base = .allocate(capacity: traffic.count)
        for (i, t) in traffic.enumerated() { (base + i).initialize(to: t ?? Workload.Traffic(rate: 0)) }
        isTraffic = traffic.map { $0 != nil }
    }

    deinit {
        base.deinitialize(count: isTraffic.count)
        base.deallocate()
    }

    /// Component `comp`'s traffic; nil for an attack.
    @inline(__always)
    subscript(comp: Int) -> UnsafePointer<Workload.Traffic>? { isTraffic[comp] ? UnsafePointer(base + comp) : nil }
}
