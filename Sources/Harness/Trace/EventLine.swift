import ConnTrack

/// One event as `conntrack -E -o timestamp` prints it:
/// `[seconds.micros]<TAB>` (at least 8 and exactly 6 digits, conntrack's
/// `%-.8ld.%-.6ld`), the tag right-aligned in 9 columns (`    [NEW]`,
/// ` [UPDATE]`, `[DESTROY]`), then the connection as `conntrack -L` prints
/// it (`ConntrackListing`, the same columns `--dump` writes): protocol
/// name padded to 8, number, remaining timeout in whole seconds, TCP
/// state, original tuple, `[UNREPLIED]`, reply tuple, `[ASSURED]`.
/// `[DESTROY]` keeps the timeout and state columns, as this machine's
/// kernel prints them (results/loopback-conntrack/conntrack-events.txt).
public enum EventLine {
    /// The line of `e`, dated `at` (nil: the event's own time) plus
    /// `epoch`. The timeout column is the time the design said was left at
    /// the event (`timeoutLeft`, its own timeouts), in whole seconds.
    public static func text(_ e: ConnEvent, at: Int64? = nil, epoch: Int64) -> String {
        var row = ConntrackListing.rows([e.record], timeouts: Timeouts(), now: e.time)
        row[0].timeout = max(0, e.record.timeoutLeft / 1_000_000_000)
        return timestamp(epoch &+ (at ?? e.time)) + e.kind.tag + " " + ConntrackListing.text(row)
    }

    /// `[seconds.micros]` and a tab, for nanoseconds since the Unix epoch
    /// (negative times are shown as 0).
    public static func timestamp(_ ns: Int64) -> String {
        let t = max(0, ns)
        let s = String(t / 1_000_000_000), us = String((t % 1_000_000_000) / 1_000)
        return "[" + String(repeating: "0", count: max(0, 8 - s.count)) + s + "."
            + String(repeating: "0", count: 6 - us.count) + us + "]\t"
    }
}
