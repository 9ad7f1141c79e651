/// The interface every table design implements, so the harness, the
/// benchmarks and `compare` are generic over designs and specialise for
/// each (no existential on the packet path).
public protocol ConnTrackTable: AnyObject, Sendable {
    init(_ config: TableConfig)
    var config: TableConfig { get }
    var reclaimer: Reclaimer { get }
    /// Processes one packet (lookup, refresh and track, or create).
    func handlePacket<C: TimeSource>(_ p: Packet, clock: C, _ ctx: inout WorkerContext) -> PacketOutcome
    /// One reaper pass of at most `maxBuckets` buckets from `start`.
    func reapPass(start: Int, maxBuckets: Int, maxEvictions: Int, now: Int64, _ ctx: inout WorkerContext) -> BucketTable.PassResult
    var bucketCount: Int { get }
    func bucketLengths() -> [Int]
    func bucketContention() -> [UInt64]
    func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport
    func expiredCount(now: Int64) -> Int
}

extension BucketTable: ConnTrackTable {}
