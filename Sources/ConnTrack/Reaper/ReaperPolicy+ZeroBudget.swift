extension ReaperPolicyChoice {
    /// The warning for a seed schedule whose passes walk no slot: with
    /// fewer slots than `fraction`, `slots / fraction` is 0, so the 2020
    /// `reapUnused` checks nothing, returns start 1 and lengthens its
    /// interval to the cap, and only lookups remove expired connections.
    /// nil when every pass walks at least one slot, or for other policies
    /// (their budgets do not divide the table).
    public func zeroBudgetWarning(tableSlots: Int, slotName: String) -> String? {
        guard case .seed(let p) = self, tableSlots >= 0, p.bucketsPerPass(tableSize: tableSlots) == 0 else { return nil }
        return "--fraction \(p.fraction) exceeds the \(tableSlots) \(slotName)s: every reaper pass checks no \(slotName) (\(slotName)s/fraction = 0, as in the 2020 code), so only inline reaping removes connections"
    }
}
