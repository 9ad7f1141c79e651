/// A setting an experiment can vary: its command-line option, its range,
/// the values `sweep` tries when none are given, and how it reads and
/// writes the value it sets. Designs declare theirs in `DesignTraits.knobs`
/// (over `TableConfig`), reaper policies in `ReaperPolicyChoice.knobs`, so
/// `sweep` varies any design's or policy's settings without knowing them.
public struct Knob<Target>: Sendable, CustomStringConvertible {
    /// The option's name without dashes ("buckets"); also the CSV column.
    public let name: String
    /// One line: what it sets.
    public let summary: String
    public let range: ClosedRange<Int>
    /// The values a sweep tries by default, within `range`.
    public let grid: [Int]
    public let get: @Sendable (Target) -> Int
    public let set: @Sendable (inout Target, Int) -> Void
    /// Set on the command line as `--set NAME=VALUE` (a plugin's knob),
    /// not by an option of its own.
    public let viaSet: Bool

    public init(_ name: String, summary: String, range: ClosedRange<Int>, grid: [Int], viaSet: Bool = false,
                get: @escaping @Sendable (Target) -> Int, set: @escaping @Sendable (inout Target, Int) -> Void) {
        precondition(!grid.isEmpty && grid.allSatisfy(range.contains), "a knob's default grid lies in its range")
        self.name = name; self.summary = summary; self.range = range; self.grid = grid; self.viaSet = viaSet
        self.get = get; self.set = set
    }

    /// "--buckets".
    public var option: String { "--" + name }

    /// The command-line arguments that set it to `value`: "--buckets 4096",
    /// or "--set rounds=8" for a plugin's knob.
    public func arguments(_ value: Int) -> String { viaSet ? "--set \(name)=\(value)" : "\(option) \(value)" }
    public var description: String { option }
}

extension Knob where Target == TableConfig {
    /// `--buckets`: the table's bucket count, or the reaper's slices for a
    /// design that is not sized by it.
    public static func buckets(_ summary: String, grid: [Int]) -> Knob {
        Knob("buckets", summary: summary, range: 1...(1 << 28), grid: grid, get: { $0.buckets }, set: { $0.buckets = $1 })
    }

    /// `--lookup-batch`: packets hashed and prefetched together.
    public static func lookupBatch(default value: Int, grid: [Int]) -> Knob {
        Knob("lookup-batch", summary: "packets hashed and prefetched together", range: 1...64, grid: grid,
             get: { $0.lookupBatch ?? value }, set: { $0.lookupBatch = $1 })
    }
}
