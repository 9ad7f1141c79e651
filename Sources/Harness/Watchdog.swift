import ConnTrack
import Sync

/// The deadlock watchdog: when no thread made progress for `seconds` while
/// one of them waits for a lock, it prints what each thread holds and waits
/// for and exits with code 4 (or hands the report to `onStall`).
final class Watchdog: @unchecked Sendable {
    let slots: [WatchSlot]
    let seconds: Double
    let onStall: (@Sendable (String) -> Void)?
    /// Stops the thread; it sleeps on it between looks.
    let done = StopLatch()
    /// owned by the controlling thread
    private var thread: OSThread?

    init(slots: [WatchSlot], seconds: Double, onStall: (@Sendable (String) -> Void)?) {
        self.slots = slots; self.seconds = seconds; self.onStall = onStall
    }

    func start() {
        guard seconds > 0 else { return }
        thread = OSThread { [self] in
            var last = slots.map { $0.progress.load(ordering: .relaxed) }
            var stalledSince = MonotonicClock.read()
            // A tenth of the stall time between looks, at most a quarter
            // of a second: a thread waking beside busy workers preempts
            // one, so it wakes a few times a second, not fifty.
            let period = min(250_000_000, max(1_000_000, Int64(seconds * 1e8)))
            while !done.sleep(nanoseconds: period) {
                let cur = slots.map { $0.progress.load(ordering: .relaxed) }
                let anyWaiting = slots.contains { $0.waitingFor.load(ordering: .relaxed) != 0 }
                if cur != last || !anyWaiting {
                    last = cur
                    stalledSince = MonotonicClock.read()
                } else if Double(MonotonicClock.read() - stalledSince) / 1e9 >= seconds {
                    let report = Watchdog.describe(slots, seconds: seconds)
                    guard let onStall else {
                        writeStderr(report)
                        exit(ExitCode.deadlock)
                    }
                    onStall(report)
                    return
                }
            }
        }
    }

    func stop() {
        done.stop()
        thread?.join()
        thread = nil
    }

    /// What each thread holds and waits for.
    static func describe(_ slots: [WatchSlot], seconds: Double) -> String {
        var out = "conntrack-bench: deadlock watchdog: no progress for \(seconds) s\n"
        for s in slots {
            let waiting = s.waitingFor.load(ordering: .relaxed)
            let held = s.heldRankValues.map { WatchSlot.describe(rankValue: $0) }
            out += "  \(s.name): holds [\(held.joined(separator: ", "))]"
            out += waiting != 0 ? ", waits for \(WatchSlot.describe(rankValue: waiting - 1))\n" : ", not waiting\n"
        }
        out += "  (held locks are listed only with --check-lock-order, which tracks them)\n"
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
