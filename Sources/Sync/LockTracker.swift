#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import struct Synchronization.Atomic

/// One out-of-order acquisition, with both locks and both call sites.
public struct LockOrderViolation: Sendable, CustomStringConvertible {
    public var acquiring: LockRank
    public var acquiringSite: String
    public var held: LockRank
    public var heldSite: String
    public var thread: String

    public var description: String {
        "lock-order violation on \(thread): acquiring \(acquiring) at \(acquiringSite) while holding \(held) (taken at \(heldSite)); declared order: \(LockRank.declaredOrder)"
    }
}

/// Set by the first thread that traps on a violation.
private let trapping = Atomic<Bool>(false)

/// Per-thread record of held locks for the rank checker. Lives inside the
/// caller's context, so it needs no thread-local storage and costs one
/// predictable branch per acquisition when disabled.
public struct LockTracker {
    public enum Action: Sendable { case record, trap }

    @usableFromInline
    struct Held {
        var rank: LockRank
        var file: StaticString
        /// A plugin's call site (`__FILE__`, valid while it is loaded),
        /// in place of `file`.
        var cFile: UnsafePointer<CChar>?
        var line: UInt

        /// "file:line", built only for a report.
        var site: String { (cFile.map { String(cString: $0) } ?? "\(file)") + ":\(line)" }
    }

    /// Checked on every acquisition; inlined into the callers' lock
    /// helpers, so a disabled checker costs one predictable branch.
    public var enabled: Bool
    public var action: Action
    public var threadName: String
    /// Mirror of the held locks for the deadlock watchdog (nil: none).
    public var watch: WatchSlot?
    @usableFromInline var held: InlineArray<8, Held>
    @usableFromInline var count = 0
    /// Violations seen when `action == .record` (allocates only on a violation).
    public var violations: [LockOrderViolation] = []

    public init(enabled: Bool, action: Action = .record, threadName: String) {
        self.enabled = enabled
        self.action = action
        self.threadName = threadName
        self.held = InlineArray(repeating: Held(rank: .table, file: "", cFile: nil, line: 0))
    }

    /// Debug builds always check; release builds only when asked.
    public static var enabledByDefault: Bool { _isDebugAssertConfiguration() }

    /// Locks held right now (tests and diagnostics).
    public var heldRanks: [LockRank] { (0..<count).map { held[$0].rank } }

    @inlinable @inline(__always)
    public mutating func willAcquire(_ rank: LockRank, file: StaticString, line: UInt) {
        guard enabled else { return }
        check(rank, file: file, line: line)
    }

    /// The same for a call site a plugin passes as C strings.
    public mutating func willAcquire(_ rank: LockRank, cFile: UnsafePointer<CChar>?, line: UInt) {
        guard enabled else { return }
        check(rank, file: "plugin", cFile: cFile, line: line)
    }

    @inlinable @inline(__always)
    public mutating func released(_ rank: LockRank) {
        guard enabled else { return }
        remove(rank)
    }

    @usableFromInline @inline(never)
    mutating func check(_ rank: LockRank, file: StaticString, cFile: UnsafePointer<CChar>? = nil, line: UInt) {
        for i in 0..<count where held[i].rank.value >= rank.value {
            let v = LockOrderViolation(
                acquiring: rank, acquiringSite: Held(rank: rank, file: file, cFile: cFile, line: line).site,
                held: held[i].rank, heldSite: held[i].site,
                thread: threadName)
            switch action {
            case .record:
                violations.append(v)
            case .trap:
                Self.trap(v)
            }
            break
        }
        if count < 8 {
            held[count] = Held(rank: rank, file: file, cFile: cFile, line: line)
            count += 1
            watch?.setHeld(count - 1, rank.value &+ 1)
        } else {
            assertionFailure("more than 8 locks held at once")
        }
    }

    /// The first violation's thread writes its line and ends the process
    /// with `_exit` (no atexit handlers running beside the other threads);
    /// any other thread that traps meanwhile waits for that exit, so the
    /// line is written once and the exit code is always the violation's.
    static func trap(_ v: LockOrderViolation) -> Never {
        if trapping.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            writeStderr("conntrack-bench: \(v)\n")
            _exit(ExitCode.lockOrderViolation)
        }
        while true { pause() }
    }

    @usableFromInline @inline(never)
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
