#if canImport(Glibc)
import Glibc
#endif
import Sync

/// A source of time in nanoseconds. The table never reads a clock itself;
/// the packet path and the reaper are handed one, so tests and deterministic
/// runs use virtual time and benchmarks choose how often the OS is asked.
public protocol TimeSource {
    func now() -> Int64
}

/// CLOCK_MONOTONIC, read on every call.
public struct MonotonicClock: TimeSource, Sendable {
    public init() {}
    @inlinable public func now() -> Int64 { MonotonicClock.read() }
    @inlinable public static func read() -> Int64 { monotonicNanos() }

    /// Unix time (ns) of this clock's 0: CLOCK_REALTIME less CLOCK_MONOTONIC
    /// now (saved tables store times as Unix time through it).
    public static func unixEpoch() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) - read()
    }
}

/// A coarse clock: the owner calls `tick()` (once per batch, say) and every
/// `now()` until the next tick returns the same value, so the per-packet
/// cost is a load instead of a system call.
public struct CoarseClock: TimeSource, Sendable {
    public private(set) var current: Int64
    /// Packets seen by the worker loop since the clock was made.
    var ticks = 0
    public init() { current = MonotonicClock.read() }
    public mutating func tick() { current = MonotonicClock.read() }
    @inlinable public func now() -> Int64 { current }
}

/// Virtual time set by the caller (tests, deterministic runs, replay of
/// packet timestamps).
public struct VirtualClock: TimeSource, Sendable {
    public var current: Int64
    public init(_ start: Int64 = 0) { current = start }
    public mutating func advance(by ns: Int64) { current &+= ns }
    @inlinable public func now() -> Int64 { current }
}

/// Durations in the table's unit, nanoseconds.
public enum Duration_ns {
    public static let millisecond: Int64 = 1_000_000
    public static let second: Int64 = 1_000_000_000
    public static let day: Int64 = 86_400 * second
}
