import CTBDesignABI

// The reaper's side: a pass over a slot range. Every policy drives it; the
// fast-forward of idle passes stays off (the protocol's defaults: ABI
// version 1 has no sweep summary), so every pass is walked.
extension PluginTable {
    public func reapPass(start: Int, maxSlots: Int, maxEvictions: Int, now: Int64,
                         _ ctx: inout WorkerContext) -> ReapPassResult {
        var a = ctb_pass_args(start: UInt64(max(0, start)), max_slots: UInt64(max(0, maxSlots)),
                              max_evictions: UInt64(max(0, maxEvictions)), now: now)
        var r = ctb_pass_result()
        call(PluginEntry.reapPass, &ctx, batch: (nil, 0, now, false)) { d.pointee.reap_pass(handle, &a, &r, $0) }
        ctx.stats.removedByReaper &+= r.removed
        ctx.stats.deferredByLockOrder &+= r.deferred
        if r.removed > 0 { net.subtract(Int(r.removed), ordering: .relaxed) }
        return ReapPassResult(
            nextStart: Int(r.next_start), slotsScanned: Int(r.slots_scanned), checked: Int(r.checked),
            expired: Int(r.expired), removed: Int(r.removed), deferred: Int(r.deferred),
            remainingSum: Int128(r.remaining_hi) << 64 | Int128(r.remaining_lo), liveChecked: Int(r.live_checked),
            stoppedEarly: r.stopped_early != 0)
    }
}
