import ConnTrack

extension RunConfig {
    /// What a valid configuration will do that its options may not lead one
    /// to expect. The CLI prints each once on standard error before the run,
    /// and every report of the run keeps them among its warnings.
    public var configWarnings: [String] {
        guard reaperEnabled, let t = designType?.traits, t.tracksConnections else { return [] }
        return [policy.zeroBudgetWarning(tableSlots: table.buckets, slotName: t.slotName ?? "slot")].compactMap { $0 }
    }
}
