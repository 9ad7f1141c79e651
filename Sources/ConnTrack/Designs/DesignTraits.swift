/// What a table design supports, known before a table exists. The CLI,
/// the configuration check, `compare`, the reports and the conformance
/// tests read these instead of knowing designs by name.
public struct DesignTraits: Sendable {
    /// Registry name (`--design`).
    public var name: String
    /// One line for `--help` and README.
    public var summary: String
    /// The design hashes with a seed (`--hash-seed` applies).
    public var hasHashSeed: Bool
    /// What one unit of `sweepSlots` is called in reports ("bucket",
    /// "slice"); nil when the design has none.
    public var slotName: String?
    /// `--buckets` sizes the table (otherwise it only divides reaper passes).
    public var sizedByBuckets: Bool
    /// Selectable behaviours (`--variant`); empty when there is one.
    public var variants: [Variant]
    /// The variant used when none is given (nil when there are none).
    public var defaultVariant: Variant?
    /// Faults that can be injected (`--inject`).
    public var faults: Set<Fault>
    /// `--max-connections` with early drop applies.
    public var connectionLimit: Bool
    /// The design keeps connections (false for the `null` ceiling design).
    public var tracksConnections: Bool
    /// Variants whose full reaper sweep may leave expired connections (the
    /// 2020 walk stops at its first removal). For every other variant a
    /// full sweep must remove every expired connection.
    public var incompleteSweepVariants: Set<Variant>
    /// Variants whose table may hold one tuple id twice by design (the 2020
    /// insert has no re-check); import accepts such duplicates for them.
    public var duplicateIDVariants: Set<Variant> = []
    /// The reaper schedule a run of this design uses when none is named
    /// (`--policy`): "seed", "linux2022" or "cilium".
    public var defaultPolicy = "seed"
    /// The design hashes and prefetches packets in groups
    /// (`--lookup-batch` applies).
    public var batchedLookups = false
    /// The design sizes its own index from the expected connections
    /// (`--capacity`), not from `--buckets`.
    public var sizedByCapacity = false
    /// The design has a compact layout for IPv4 tuples (`--ipv4-only`
    /// applies).
    public var ipv4OnlyLayout = false
    /// The settings `sweep` can vary for this design (its reaper policy's
    /// come from `ReaperPolicyChoice.knobs`).
    public var knobs: [Knob<TableConfig>] = []
    /// Approximate heap bytes per connection, for a soak's allowance of
    /// RSS growth with the table (the up-front memory estimate is each
    /// design's `estimatedBytes`).
    public var bytesPerConnection: Int = 0
    /// At its connection limit the design drops an old connection to make
    /// room (Linux's `early_drop`); false: it refuses the new one (OVS).
    public var earlyDropsAtLimit = true
    /// A connection's slot follows from the connection itself, so an
    /// export imported again puts each one back in its slot; false: slots
    /// are dealt in turn as connections are made (OVS's expiry lists), and
    /// an import deals them again.
    public var slotFollowsConnection = true
    /// The detectors' lock-order self-test (`selftest lock-order-pair`):
    /// takes one pair of the design's locks in both orders, from two
    /// threads that never overlap, so a lock-order detector must report
    /// the cycle; returns the line to print. nil when the design has none.
    public var lockOrderPairSelftest: (@Sendable () -> String)? = nil
    /// `selftest data-race-pair`: two accesses a skipped lock (the
    /// design's fault) should have ordered, made by two threads that
    /// nothing else orders (`DataRaceSelftest`); returns a one-line summary.
    public var dataRacePairSelftest: (@Sendable () -> String)? = nil
    /// Every lock of the design is seen by the rank checker, the watchdog
    /// and the contention counters (false: a plugin that does not call the
    /// lock hooks; the report says its locks are unobserved).
    public var locksObserved = true
    /// A full sweep removes every expired connection, whatever the variant
    /// (false: a plugin that does not declare CTB_TRAIT_COMPLETE_SWEEP).
    public var pluginCompleteSweep = true
    /// The design reports one verdict per packet and its connections'
    /// events (`--verdicts`, `--events`; false: plugins, whose ABI has no
    /// trace calls yet).
    public var traces = true
    /// The design lists and removes connections while workers run (`--op
    /// dump`, `save`, `flush`, `delete`; false: a plugin without the ABI 3
    /// entries `dump_running` and `remove_running`).
    public var operatesWhileRunning = true
    /// The design rehashes to a new size while workers run (`--op
    /// resize:N`); false: it sizes its table once, and the run is refused.
    public var resizesWhileRunning = false
    /// Why it does not (the refusal's reason).
    public var noResizeReason = "it sizes its table once, at the start"

    public init(name: String, summary: String, hasHashSeed: Bool, slotName: String?, sizedByBuckets: Bool,
                variants: [Variant], defaultVariant: Variant?, faults: Set<Fault>, connectionLimit: Bool,
                tracksConnections: Bool, incompleteSweepVariants: Set<Variant>) {
        precondition(variants.isEmpty == (defaultVariant == nil), "a default variant exactly when there are variants")
        self.name = name; self.summary = summary; self.hasHashSeed = hasHashSeed; self.slotName = slotName
        self.sizedByBuckets = sizedByBuckets; self.variants = variants; self.defaultVariant = defaultVariant
        self.faults = faults; self.connectionLimit = connectionLimit; self.tracksConnections = tracksConnections
        self.incompleteSweepVariants = incompleteSweepVariants
    }

    public var supportsVariants: Bool { !variants.isEmpty }

    /// The hash seed a configuration of this design takes: `seed` when the
    /// design hashes with one, else nil (which is all it accepts).
    public func hashSeed(_ seed: @autoclosure () -> UInt32?) -> UInt32? { hasHashSeed ? seed() : nil }

    /// The variant a configuration selects (nil for a design without variants).
    public func variant(_ requested: Variant?) -> Variant? { requested ?? defaultVariant }

    /// Whether a full sweep must remove every expired connection.
    public func fullSweepRemovesAllExpired(_ requested: Variant?) -> Bool {
        guard tracksConnections else { return true }
        guard pluginCompleteSweep else { return false }
        guard let v = variant(requested) else { return true }
        return !incompleteSweepVariants.contains(v)
    }

    /// The label of a design and variant in reports ("fixed", "global-lock").
    public func label(_ requested: Variant?) -> String { variant(requested)?.rawValue ?? name }
}
