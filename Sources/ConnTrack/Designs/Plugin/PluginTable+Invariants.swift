import CTBDesignABI

// Inspection, the invariant check with the end-of-run cross-check, and the
// expired count, from the export and the plugin's optional calls.
extension PluginTable {
    /// Each slot's length and contention, when the plugin offers `inspect`.
    func slots() -> [ctb_slot_info]? {
        guard let f = d.pointee.inspect else { return nil }
        var v = [ctb_slot_info](repeating: ctb_slot_info(), count: max(sweepSlots, 0))
        ctb_guard_enter(cName, PluginEntry.inspect.p)
        let n = v.withUnsafeMutableBufferPointer { f(handle, $0.baseAddress, UInt64($0.count)) }
        ctb_guard_leave()
        if Int(n) < v.count { v.removeLast(v.count - Int(n)) }
        return v
    }

    public func inspect() -> TableInspection {
        let s = slots()
        let connections = exportRaw().count
        let lengths = s?.map { Int($0.length) } ?? []
        var i = TableInspection(slotName: Self.traits.slotName, slotLengths: lengths,
                                stripeName: s == nil ? nil : "\(Self.traits.slotName ?? "slot") lock",
                                stripeContention: s?.map(\.contended) ?? [],
                                tuples: s == nil ? 2 * connections : lengths.reduce(0, +), connections: connections)
        if let f = d.pointee.peak_connections {
            ctb_guard_enter(cName, PluginEntry.peakConnections.p)
            let p = f(handle)
            ctb_guard_leave()
            if p >= 0 { i.peakConnections = Int(p) }
        }
        if let m = d.pointee.memory_bytes {
            ctb_guard_enter(cName, PluginEntry.memoryBytes.p)
            i.mappedBytes = Int(m(handle))
            ctb_guard_leave()
        }
        return i
    }

    /// The plugin's own check, then what the harness checks from outside:
    /// the exported connections against created minus removed (lost or
    /// duplicated connections), and duplicate tuples, as DPDK's
    /// hash_readwrite test checks for lost and duplicated keys.
    public func _checkInvariants(uniqueIDs: Bool?) -> InvariantReport {
        var rep = InvariantReport()
        if let f = d.pointee.check_invariants {
            var buf = [CChar](repeating: 0, count: 8192)
            ctb_guard_enter(cName, PluginEntry.checkInvariants.p)
            let bad = f(handle, &buf, buf.count)
            ctb_guard_leave()
            if bad > 0 {
                let lines = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: "\n").map(String.init)
                rep.violations += lines.isEmpty ? ["\(bad) violations (no text)"] : lines
                if UInt64(lines.count) < bad { rep.violations.append("… \(bad - UInt64(lines.count)) more") }
            }
        }
        let records = exportRaw()
        rep.connections = records.count
        let s = slots()
        rep.tuples = s.map { $0.reduce(0) { $0 + Int($1.length) } } ?? 2 * records.count
        var ids = Set<TupleID>()
        ids.reserveCapacity(2 * records.count)
        for r in records {
            let o = TupleID(r.original), p = TupleID(r.reply)
            if !ids.insert(o).inserted { rep.duplicateIDs += 1 }
            // A self-connection's two tuples share one id: not a duplicate.
            if p != o, !ids.insert(p).inserted { rep.duplicateIDs += 1 }
        }
        let expected = net.load(ordering: .relaxed)
        if records.count != expected {
            rep.violations.append("plugin \(Self.traits.name) exports \(records.count) connections but created minus removed is \(expected)"
                                  + (records.count < expected ? " (connections lost)" : " (connections duplicated)"))
        }
        if rep.tuples != 2 * rep.connections {
            rep.violations.append("tuples \(rep.tuples) != 2 x connections \(rep.connections)")
        }
        let unique = d.pointee.traits & CTB_TRAIT_UNIQUE_TUPLES != 0
        if uniqueIDs ?? unique, rep.duplicateIDs > 0 { rep.violations.append("\(rep.duplicateIDs) duplicate tuple ids") }
        return rep
    }

    public func expiredCount(now: Int64) -> Int { expiredCount(now: now, part: 0, of: 1)! }

    /// Counted as the plugin walks, one record in `parts` (every parts-th
    /// in its order, from `part`): no array of every record, which a
    /// workload's sample every virtual second would build at millions of
    /// connections.
    public func expiredCount(now: Int64, part: Int, of parts: Int) -> Int? {
        precondition(parts >= 1 && (0..<parts).contains(part), "part \(part) of \(parts)")
        let sink = PluginExpiredSink(timeouts: timeouts.pointee, now: now, part: part, parts: parts)
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        let arg = Unmanaged.passUnretained(sink).toOpaque()
        call(PluginEntry.export, &ctx) { c in
            d.pointee.for_each_connection(handle, { arg, r in
                let s = Unmanaged<PluginExpiredSink>.fromOpaque(arg!).takeUnretainedValue()
                if s.seen % s.parts == s.part, ConnectionRecord(r!.pointee, timeouts: s.timeouts, now: s.now).timeoutLeft < 0 {
                    s.expired += 1
                }
                s.seen += 1
            }, arg, c)
        }
        return withExtendedLifetime(sink) { sink.expired }
    }
}

/// What `expiredCount` counts as the plugin walks (the callback's argument).
final class PluginExpiredSink {
    let timeouts: Timeouts
    let now: Int64
    let part: Int
    let parts: Int
    var seen = 0
    var expired = 0
    init(timeouts: Timeouts, now: Int64, part: Int, parts: Int) {
        self.timeouts = timeouts; self.now = now; self.part = part; self.parts = parts
    }
}
