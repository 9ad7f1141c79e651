/// Everything that shapes a table. Defaults are the seed's.
public struct TableConfig: Sendable, Equatable {
    /// Number of buckets (seed: 1 << 14).
    public var buckets: Int = 1 << 14
    /// Hash seed; nil draws a random one (the seed's behaviour).
    public var hashSeed: UInt32? = nil
    /// The design's behaviour; nil selects the design's default (and is
    /// the only value a design without variants accepts).
    public var variant: Variant? = nil
    public var faults: Set<Fault> = []
    public var timeouts = Timeouts()
    /// Limit on live connections; nil means none (the seed).
    public var maxConnections: Int? = nil
    /// Buckets searched for an early-drop victim at the limit (Linux: 8).
    public var earlyDropBuckets: Int = 8
    /// Connections the table should expect at once: designs that size
    /// themselves (`fast`) size their index from it. The harness sets it
    /// from the scenario's flows when it is not given (`--capacity`); nil
    /// takes the design's default.
    public var expectedConnections: Int? = nil
    /// Packets a batched design hashes and prefetches together before it
    /// processes them (`--lookup-batch`); nil takes the design's default.
    public var lookupBatch: Int? = nil
    /// Store IPv4 tuples only, in a compact layout (`--ipv4-only`); an IPv6
    /// packet is not tracked and is counted as a drop.
    public var ipv4Only = false
    /// `buckets` was chosen (`--buckets`, a sweep, a restored table), not
    /// left at its default: a design with a default size of its own
    /// (`linux`: the kernel's) uses it only when this is false.
    public var bucketsGiven = true
    /// A plugin's own settings by their index in its descriptor
    /// (`--knob`, `sweep`); a knob not set takes its declared default.
    public var pluginKnobs: [Int: Int] = [:]
    /// Plugin knobs by name, as `--set NAME=VALUE` gives them: each plugin
    /// that declares NAME takes it (`pluginKnobs`, by index, comes first).
    public var knobSettings: [String: Int] = [:]

    public init(buckets: Int = 1 << 14, hashSeed: UInt32? = nil, variant: Variant? = nil,
                faults: Set<Fault> = [], timeouts: Timeouts = Timeouts(), maxConnections: Int? = nil) {
        self.buckets = buckets; self.hashSeed = hashSeed; self.variant = variant
        self.faults = faults; self.timeouts = timeouts; self.maxConnections = maxConnections
    }

    /// Checks caller-supplied values and that `design` supports every
    /// option that was set; the message names the option and its range.
    public func validate(for design: DesignTraits) throws(ConfigError) {
        try validate()
        let d = design.name
        if let v = variant, !design.variants.contains(v) {
            throw ConfigError(design.supportsVariants
                ? "--variant \(v.rawValue) is not a variant of design \(d) (allowed: \(design.variants.map(\.rawValue).joined(separator: ", ")))"
                : "--variant does not apply to design \(d) (it has no variants)")
        }
        if hashSeed != nil && !design.hasHashSeed {
            throw ConfigError("--hash-seed does not apply to design \(d) (it does not hash with a seed)")
        }
        if maxConnections != nil && !design.connectionLimit {
            throw ConfigError("--max-connections does not apply to design \(d) (it has no connection limit)")
        }
        if lookupBatch != nil && !design.batchedLookups {
            throw ConfigError("--lookup-batch does not apply to design \(d) (it looks packets up one at a time)")
        }
        if ipv4Only && !design.ipv4OnlyLayout {
            throw ConfigError("--ipv4-only does not apply to design \(d) (it has no IPv4-only layout)")
        }
        if expectedConnections != nil && !design.sizedByCapacity {
            throw ConfigError("--capacity does not apply to design \(d) (it is sized by --buckets or not at all)")
        }
        if let f = faults.subtracting(design.faults).map(\.rawValue).sorted().first {
            throw ConfigError("--inject \(f) does not apply to design \(d)"
                + (design.faults.isEmpty ? " (it has no injectable faults)" : " (allowed: \(design.faults.map(\.rawValue).sorted().joined(separator: ", ")))"))
        }
    }

    /// Checks caller-supplied values; the message names the field and range.
    public func validate() throws(ConfigError) {
        guard buckets >= 1 && buckets <= 1 << 28 else {
            throw ConfigError("--buckets must be in 1...\(1 << 28), got \(buckets)")
        }
        if let m = maxConnections, m < 1 { throw ConfigError("--max-connections must be at least 1, got \(m)") }
        if let n = expectedConnections, n < 1 || n > 1 << 30 {
            throw ConfigError("--capacity must be in 1...\(1 << 30), got \(n)")
        }
        if let n = lookupBatch, n < 1 || n > 64 { throw ConfigError("--lookup-batch must be in 1...64, got \(n)") }
        guard earlyDropBuckets >= 1 && earlyDropBuckets <= 1024 else {
            throw ConfigError("--early-drop-buckets must be in 1...1024, got \(earlyDropBuckets)")
        }
        let t = timeouts
        for (name, v) in [("established", t.established), ("other", t.other), ("syn-sent", t.synSent),
                          ("fin-wait", t.finWait), ("close-wait", t.closeWait), ("last-ack", t.lastAck),
                          ("time-wait", t.timeWait), ("close", t.close), ("udp", t.udp), ("udp-stream", t.udpStream)]
        where v < 0 {
            throw ConfigError("timeout \(name) must be >= 0 ns, got \(v)")
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
