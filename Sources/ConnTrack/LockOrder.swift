#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one declaration of the table's lock order. A thread may only acquire
/// a lock whose rank is strictly greater than every lock it holds:
///
///     reaper control  <  table rwlock  <  bucket[0] < bucket[1] < …  <  connection  <  retire list
///
/// so: the reaper's control lock before the table; the table rwlock (read
/// or write) before any bucket; buckets in ascending index, each once; at
/// most one connection lock, taken last; the retire list is a leaf.
public enum LockRank: Sendable, Hashable, CustomStringConvertible {
    case reaperControl
    case table
    case bucket(Int)
    case connection
    case retireList

    public var value: Int {
        switch self {
        case .reaperControl: return 0
        case .table: return 1
        case .bucket(let i): return 2 &+ i
        case .connection: return Int.max - 1
        case .retireList: return Int.max
        }
    }

    public var description: String {
        switch self {
        case .reaperControl: return "reaper-control"
        case .table: return "table-rwlock"
        case .bucket(let i): return "bucket[\(i)]"
        case .connection: return "connection"
        case .retireList: return "retire-list"
        }
    }
}

/// Process exit codes shared by every tool in the package.
public enum ExitCode {
    public static let usage: Int32 = 2
    public static let lockOrderViolation: Int32 = 3
    public static let deadlock: Int32 = 4
    public static let invariantViolation: Int32 = 5
}

/// One out-of-order acquisition, with both locks and both call sites.
public struct LockOrderViolation: Sendable, CustomStringConvertible {
    public var acquiring: LockRank
    public var acquiringSite: String
    public var held: LockRank
    public var heldSite: String
    public var thread: String

    public var description: String {
        "lock-order violation on \(thread): acquiring \(acquiring) at \(acquiringSite) while holding \(held) (taken at \(heldSite)); declared order: reaper-control < table-rwlock < bucket[i] ascending < connection < retire-list"
    }
}

/// Per-thread record of held locks for the rank checker. Lives inside the
/// caller's `WorkerContext`, so it needs no thread-local storage and costs
/// one predictable branch per acquisition when disabled.
public struct LockTracker {
    public enum Action: Sendable { case record, trap }

    struct Held {
        var rank: LockRank
        var file: StaticString
        var line: UInt
        init(rank: LockRank, file: StaticString, line: UInt) {
            self.rank = rank; self.file = file; self.line = line
        }
    }

    public var enabled: Bool
    public var action: Action
    public var threadName: String
    /// Mirror of the held locks for the deadlock watchdog (nil: none).
    public var watch: WatchSlot?
    var held: InlineArray<8, Held>
    var count = 0
    /// Violations seen when `action == .record` (allocates only on a violation).
    public var violations: [LockOrderViolation] = []

    public init(enabled: Bool, action: Action = .record, threadName: String) {
        self.enabled = enabled
        self.action = action
        self.threadName = threadName
        self.held = InlineArray(repeating: Held(rank: .table, file: "", line: 0))
    }

    /// Debug builds always check; release builds only when asked.
    public static var enabledByDefault: Bool { _isDebugAssertConfiguration() }

    public var heldRanks: [LockRank] { (0..<count).map { held[$0].rank } }

    @inline(__always)
    public mutating func willAcquire(_ rank: LockRank, file: StaticString, line: UInt) {
        guard enabled else { return }
        check(rank, file: file, line: line)
    }

    @inline(__always)
    public mutating func released(_ rank: LockRank) {
        guard enabled else { return }
        remove(rank)
    }


    mutating func check(_ rank: LockRank, file: StaticString, line: UInt) {
        for i in 0..<count where held[i].rank.value >= rank.value {
            let v = LockOrderViolation(
                acquiring: rank, acquiringSite: "\(file):\(line)",
                held: held[i].rank, heldSite: "\(held[i].file):\(held[i].line)",
                thread: threadName)
            switch action {
            case .record:
                violations.append(v)
            case .trap:
                writeStderr("conntrack-bench: \(v)\n")
                exit(ExitCode.lockOrderViolation)
            }
            break
        }
        if count < 8 {
            held[count] = Held(rank: rank, file: file, line: line)
            count += 1
            watch?.setHeld(count - 1, rank.value &+ 1)
        } else {
            assertionFailure("more than 8 locks held at once")
        }
    }


    mutating func remove(_ rank: LockRank) {
        // Locks may be released in any order (the seed unlocks freely).
        var i = count - 1
        while i >= 0 {
            if held[i].rank == rank {
                var j = i
                while j + 1 < count { held[j] = held[j + 1]; j += 1 }
                count -= 1
                if let w = watch {
                    for k in 0..<4 { w.setHeld(k, k < count ? held[k].rank.value &+ 1 : 0) }
                }
                return
            }
            i -= 1
        }
        assertionFailure("released \(rank) which this thread does not hold")
    }
}

/// Writes a line to standard error without Foundation or the shared FILE*.
public func writeStderr(_ s: String) {
    var s = s
    s.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
}
