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
        // A plugin's slots are known only once its table exists: the run
        // warns then (`zeroBudgetWarning(table:)`).
        let known = t.sizedByBuckets || !PluginLoader.isPluginSpec(design)
        return [unobserved, known ? policy.zeroBudgetWarning(tableSlots: table.buckets, slotName: t.slotName ?? "slot") : nil]
            .compactMap { $0 }
    }

    /// The seed schedule's zero-budget warning against the slots the run's
    /// table has (a plugin's `sweep_slots`), when `configWarnings` could
    /// not know them; nil otherwise.
    func zeroBudgetWarning(table slots: Int) -> String? {
        guard reaperEnabled, let t = designType?.traits, t.tracksConnections else { return nil }
        let w = policy.zeroBudgetWarning(tableSlots: slots, slotName: t.slotName ?? "slot")
        return w.flatMap { configWarnings.contains($0) ? nil : $0 }
    }
}
