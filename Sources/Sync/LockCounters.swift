/// Acquisitions of one kind of lock, and how many found it held.
public struct LockCounters: Sendable, Codable, Equatable {
    public var acquisitions: UInt64 = 0
    public var contended: UInt64 = 0
    public var waitNanos: UInt64 = 0
    public init() {}

    public mutating func merge(_ o: LockCounters) {
        acquisitions &+= o.acquisitions; contended &+= o.contended; waitNanos &+= o.waitNanos
    }
}
