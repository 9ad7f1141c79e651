import ConnTrack

/// One varied setting of a sweep: a design's knob (over the table
/// configuration) or its reaper policy's, with the values to try.
public struct SweepAxis: Sendable, CustomStringConvertible {
    public enum Setting: Sendable {
        case table(Knob<TableConfig>)
        case policy(Knob<ReaperPolicyChoice>)
    }
    public let setting: Setting
    public let values: [Int]

    public var name: String {
        switch setting { case .table(let k): k.name; case .policy(let k): k.name }
    }
    public var range: ClosedRange<Int> {
        switch setting { case .table(let k): k.range; case .policy(let k): k.range }
    }
    /// The command-line arguments that set this axis to `value`.
    public func arguments(_ value: Int) -> String {
        switch setting { case .table(let k): k.arguments(value); case .policy(let k): k.arguments(value) }
    }
    /// A design setting (as opposed to a policy setting).
    public var isDesign: Bool { if case .table = setting { true } else { false } }
    public var description: String { "\(name)=\(values.map(String.init).joined(separator: ","))" }

    /// `c` with this axis at `value`.
    public func apply(_ value: Int, to c: inout RunConfig) {
        switch setting {
        case .table(let k): k.set(&c.table, value)
        case .policy(let k): k.set(&c.policy, value)
        }
    }

    /// The value `c` has for this axis.
    public func value(in c: RunConfig) -> Int {
        switch setting {
        case .table(let k): k.get(c.table)
        case .policy(let k): k.get(c.policy)
        }
    }

    /// Every knob the configuration's design and policy declare.
    public static func knobs(of c: RunConfig) -> [Setting] {
        let design = (c.designType?.traits.knobs ?? []).map(Setting.table)
        let policy = c.reaperEnabled ? c.policy.knobs.map(Setting.policy) : []
        return design + policy
    }

    /// The axes of a sweep of `c`: with no `vary`, every knob of the design
    /// and its policy over its default grid; otherwise only the knobs named
    /// (`name: values`), the others at `c`'s values.
    public static func axes(for c: RunConfig, vary: [(String, [Int])]) throws(ConfigError) -> [SweepAxis] {
        let all = knobs(of: c)
        let names = all.map { SweepAxis(setting: $0, values: []).name }
        let design = c.designType?.traits.name ?? c.design
        if vary.isEmpty {
            return all.map { s in
                switch s { case .table(let k): SweepAxis(setting: s, values: k.grid); case .policy(let k): SweepAxis(setting: s, values: k.grid) }
            }
        }
        var axes: [SweepAxis] = []
        for (name, values) in vary {
            guard let i = names.firstIndex(of: name) else {
                throw ConfigError("--vary \(name): not a setting of design \(design) with reaper \(c.reaperEnabled ? c.policy.name : "off") (allowed: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            guard !axes.contains(where: { $0.name == name }) else { throw ConfigError("--vary \(name) is given twice") }
            let axis = SweepAxis(setting: all[i], values: values)
            guard !values.isEmpty, values.allSatisfy(axis.range.contains) else {
                throw ConfigError("--vary \(name) takes values in \(axis.range.lowerBound)...\(axis.range.upperBound), got \(values.map(String.init).joined(separator: ","))")
            }
            axes.append(axis)
        }
        return axes
    }

    public init(setting: Setting, values: [Int]) { self.setting = setting; self.values = values }
}
