import ConnTrack

extension RunConfig {
    /// What a valid configuration will do that its options may not lead one
    /// to expect. The CLI prints each once on standard error before the run,
    /// and every report of the run keeps them among its warnings.
    public var configWarnings: [String] {
        guard let t = designType?.traits else { return [] }
        // A plugin that does not call the lock hooks still runs.
        let unobserved = t.locksObserved ? nil
            : "design \(t.name) does not report its locks through the plugin hooks: its locks are unobserved (no rank check, watchdog lock report or contention counts)"
        guard reaperEnabled, t.tracksConnections else { return [unobserved].compactMap { $0 } }
        return [unobserved, policy.zeroBudgetWarning(tableSlots: table.buckets, slotName: t.slotName ?? "slot")].compactMap { $0 }
    }
}
