import CTBDesignABI

/// Collects a plugin's exported records (the callback's argument).
final class PluginRecordSink {
    var records: [ctb_record] = []
}

// Export and import as records equal to `ConnectionRecord`: save/restore,
// dump, the invariant cross-checks and the soak work on a plugin as on a
// built-in design.
extension PluginTable {
    /// Every record in the plugin's order. Its locks are taken in a scratch
    /// context, so they count in no run's statistics.
    func exportRaw() -> [ctb_record] {
        let sink = PluginRecordSink()
        var ctx = WorkerContext(name: "export", checkLockOrder: false)
        let arg = Unmanaged.passUnretained(sink).toOpaque()
        call(PluginEntry.export, &ctx) { c in
            d.pointee.for_each_connection(handle, { arg, r in
                Unmanaged<PluginRecordSink>.fromOpaque(arg!).takeUnretainedValue().records.append(r!.pointee)
            }, arg, c)
        }
        return withExtendedLifetime(sink) { sink.records }
    }

    public func forEachConnection(now: Int64, _ body: (ConnectionRecord) -> Void) {
        let t = timeouts.pointee
        for r in exportRaw() { body(ConnectionRecord(r, timeouts: t, now: now)) }
    }

    public func importConnections(_ records: [ConnectionRecord], _ ctx: inout WorkerContext) throws(ImportError) {
        let unique = d.pointee.traits & CTB_TRAIT_UNIQUE_TUPLES != 0
        try records.validateForImport(allowDuplicateIDs: !unique)
        if !Self.traits.tracksConnections, !records.isEmpty {
            throw ImportError(record: 0, reason: "design \(Self.traits.name) keeps no connections")
        }
        let raw = records.map(\.abi)
        var err = [CChar](repeating: 0, count: 512)
        let rc = raw.withUnsafeBufferPointer { buf in
            call(PluginEntry.importRecords, &ctx) { d.pointee.import_connections(handle, buf.baseAddress, buf.count, $0, &err, err.count) }
        }
        if rc != 0 { throw ImportError(record: 0, reason: "plugin \(Self.traits.name) refused the import: \(err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })") }
        net.store(records.count, ordering: .relaxed)
    }
}
