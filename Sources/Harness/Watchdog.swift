import ConnTrack

/// Formats what each thread holds and waits for when no one progresses.
enum Watchdog {
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
