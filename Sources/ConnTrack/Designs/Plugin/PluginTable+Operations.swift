import CTBDesignABI

/// The dump's callback argument: the body to call per record.
private final class PluginDumpSink {
    let timeouts: Timeouts
    let now: Int64
    let body: (ConnectionRecord) -> Void
    init(timeouts: Timeouts, now: Int64, body: @escaping (ConnectionRecord) -> Void) {
        self.timeouts = timeouts; self.now = now; self.body = body
    }
}

// Operations while packets flow (`--op`), through the plugin's ABI 3
// entries `dump_running` and `remove_running`: the plugin walks with its
// own locks (through the hooks, in the operation thread's context); the
// filter stays the harness's, asked per candidate.
extension PluginTable {
    public func dumpWhileRunning(now: Int64, slot: Int, _ ctx: inout WorkerContext,
                                 _ body: (ConnectionRecord) -> Void) -> OperationCounts? {
        guard let dump = d.pointee.dump_running else { return nil }
        var out = ctb_op_counts()
        withoutActuallyEscaping(body) { body in
            let sink = PluginDumpSink(timeouts: timeouts.pointee, now: now, body: body)
            let arg = Unmanaged.passUnretained(sink).toOpaque()
            call(PluginEntry.dumpRunning, &ctx) { c in
                dump(handle, now, { arg, r in
                    let s = Unmanaged<PluginDumpSink>.fromOpaque(arg!).takeUnretainedValue()
                    s.body(ConnectionRecord(r!.pointee, timeouts: s.timeouts, now: s.now))
                }, arg, &out, c)
            }
            withExtendedLifetime(sink) {}
        }
        return OperationCounts(out)
    }

    public func removeWhileRunning(_ filter: ConnectionFilter, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        guard let remove = d.pointee.remove_running else { return nil }
        var out = ctb_op_counts()
        var f = filter
        withUnsafeMutablePointer(to: &f) { fp in
            call(PluginEntry.removeRunning, &ctx) { c in
                remove(handle, now, { arg, t in
                    arg!.assumingMemoryBound(to: ConnectionFilter.self).pointee.matches(TupleID(t!.pointee)) ? 1 : 0
                }, fp, &out, c)
            }
        }
        // The cross-check's created less removed, and the run's counters.
        net.subtract(Int(out.removed), ordering: .relaxed)
        ctx.stats.removedByOperation &+= out.removed
        return OperationCounts(out)
    }
}

extension PluginTable {
    /// Through the ABI 4 entry `resize_running`; the slot count it returns
    /// is the reaper's from then on.
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        guard let resize = d.pointee.resize_running else { return nil }
        var out = ctb_op_counts()
        let before = sweepSlots
        let after = call(PluginEntry.resizeRunning, &ctx) { c in resize(handle, UInt64(slots), &out, c) }
        guard after >= 1 && after <= UInt64(Int.max) else {
            Self.refuse("resize_running returned \(after) slots, allowed 1...\(Int.max)")
        }
        slotCount.store(Int(after), ordering: .relaxed)
        var n = OperationCounts(out)
        n.slotsBefore = before
        n.slotsAfter = Int(after)
        return n
    }
}

extension OperationCounts {
    init(_ c: ctb_op_counts) {
        self.init()
        visited = Int(c.visited); listed = Int(c.listed); removed = Int(c.removed); retries = Int(c.retries)
    }
}
