/// The settings `sweep` can vary for each policy. A policy's knobs are
/// declared here, beside its type's fields, so an experiment varies any
/// policy without knowing it.
extension ReaperPolicyChoice {
    public var knobs: [Knob<ReaperPolicyChoice>] {
        switch self {
        case .seed: SeedReaperPolicy.knobs.map { Self.lift($0, { if case .seed(let p) = $0 { p } else { nil } }, Self.seed) }
        case .linux2022: Linux2022ReaperPolicy.knobs.map { Self.lift($0, { if case .linux2022(let p) = $0 { p } else { nil } }, Self.linux2022) }
        case .cilium: CiliumReaperPolicy.knobs.map { Self.lift($0, { if case .cilium(let p) = $0 { p } else { nil } }, Self.cilium) }
        case .ovs: OVSReaperPolicy.knobs.map { Self.lift($0, { if case .ovs(let p) = $0 { p } else { nil } }, Self.ovs) }
        }
    }

    /// A policy's knob as a knob of the choice that holds it.
    private static func lift<P>(_ k: Knob<P>, _ unwrap: @escaping @Sendable (ReaperPolicyChoice) -> P?,
                                _ wrap: @escaping @Sendable (P) -> ReaperPolicyChoice) -> Knob<ReaperPolicyChoice> {
        Knob(k.name, summary: k.summary, range: k.range, grid: k.grid,
             get: { unwrap($0).map(k.get) ?? 0 },
             set: { choice, v in
                 guard var p = unwrap(choice) else { preconditionFailure("knob \(k.name) set on another policy") }
                 k.set(&p, v)
                 choice = wrap(p)
             })
    }
}

extension SeedReaperPolicy {
    public static let knobs: [Knob<SeedReaperPolicy>] = [
        Knob("fraction", summary: "a pass walks buckets/fraction buckets", range: 1...(1 << 20), grid: [16, 128, 1024],
             get: { $0.fraction }, set: { $0.fraction = $1 }),
        Knob("max-expired-pct", summary: "above this share of expired tuples the next pass comes at the minimum interval",
             range: 0...100, grid: [50], get: { $0.maxExpiredPercent }, set: { $0.maxExpiredPercent = $1 }),
    ]
}

extension Linux2022ReaperPolicy {
    public static let knobs: [Knob<Linux2022ReaperPolicy>] = [
        Knob("linux-buckets-per-pass", summary: "slots one pass of a sweep covers", range: 1...(1 << 28), grid: [256, 1024, 4096],
             get: { $0.bucketsPerPass }, set: { $0.bucketsPerPass = $1 }),
    ]
}

extension CiliumReaperPolicy {
    public static let knobs: [Knob<CiliumReaperPolicy>] = [
        Knob("cilium-shrink-above-pct", summary: "above this delete ratio the interval shrinks by the ratio", range: 0...100,
             grid: [10, 25, 50], get: { $0.shrinkAbovePercent }, set: { $0.shrinkAbovePercent = $1 }),
        Knob("cilium-grow-below-pct", summary: "below this delete ratio the interval grows ×1.5", range: 0...100,
             grid: [5], get: { $0.growBelowPercent }, set: { $0.growBelowPercent = $1 }),
    ]
}
