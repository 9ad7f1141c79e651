/// The one declaration of the lock order. A thread may only acquire a lock
/// whose rank is strictly greater than every lock it holds:
///
///     reaper control  <  table rwlock  <  bucket[0] < bucket[1] < …  <  ct lock  <  connection  <  entry pool  <  retire list
///
/// so: the reaper's control lock before the table; the table rwlock (read
/// or write) before any bucket; buckets (or lock stripes) in ascending
/// index, each once; at most one connection lock; the entry pool's free
/// list (the `fast` design) and the retire list are leaves. The `ovs`
/// design's global insert lock (OVS's `ct_lock`) comes before any
/// connection lock, as OVS takes them.
public enum LockRank: Sendable, Hashable, CustomStringConvertible {
    case reaperControl
    case table
    case bucket(Int)
    case connection
    case entryPool
    case retireList
    /// The `ovs` design's global insert lock (OVS's `ct_lock`).
    case ctLock

    /// The declared order as text, for reports and violation messages.
    public static let declaredOrder = "reaper-control < table-rwlock < bucket[i] ascending < ct-lock < connection < entry-pool < retire-list"

    public var value: Int {
        switch self {
        case .reaperControl: return 0
        case .table: return 1
        case .bucket(let i): return 2 &+ i
        case .connection: return Int.max - 2
        case .entryPool: return Int.max - 1
        case .retireList: return Int.max
        case .ctLock: return Int.max - 3
        }
    }

    /// The rank whose `value` is `v` (inverse of `value`).
    public init(value v: Int) {
        switch v {
        case 0: self = .reaperControl
        case 1: self = .table
        case Int.max - 2: self = .connection
        case Int.max - 1: self = .entryPool
        case Int.max: self = .retireList
        case Int.max - 3: self = .ctLock
        default: self = .bucket(v - 2)
        }
    }

    public var description: String {
        switch self {
        case .reaperControl: return "reaper-control"
        case .table: return "table-rwlock"
        case .bucket(let i): return "bucket[\(i)]"
        case .connection: return "connection"
        case .entryPool: return "entry-pool"
        case .retireList: return "retire-list"
        case .ctLock: return "ct-lock"
        }
    }
}
