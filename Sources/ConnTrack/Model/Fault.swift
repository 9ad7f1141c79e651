/// Faults that can be injected to prove the detectors work (off by default).
public enum Fault: String, Sendable, CaseIterable, Codable {
    /// Insert locks the higher bucket first.
    case descendingLockOrder = "descending-lock-order"
    /// Reaping a connection whose tuples sit in two buckets edits the
    /// partner's list without taking its lock.
    case skipBucketLock = "skip-bucket-lock"
    /// The partner tuple's bucket is computed by reversing the tuple, as the
    /// 2020 code did: wrong for NAT redirects.
    case recomputeNatPartner = "recompute-nat-partner"
    /// The 2020 walk (advance after removal) applied to `fixed`.
    case walkAfterRemove = "walk-after-remove"
    /// `fast`: a TCP segment updates the tracker without the entry lock.
    case skipEntryLock = "skip-entry-lock"
    /// `ovs`: a packet updates its connection without the connection mutex.
    case skipConnMutex = "skip-conn-mutex"
    /// `ovs`: a timeout change takes `ct_lock` while it holds the
    /// connection's lock.
    case ctLockAfterConn = "ct-lock-after-conn"
}
