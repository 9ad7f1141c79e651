/// The registry of table designs. Adding a design is one new folder under
/// `Designs/` with a type conforming to `ConnTrackTable`, plus one line in
/// `all`; the CLI, `compare`, `sweep`, the reports, the benchmarks and the
/// conformance tests find it here.
public enum TableDesigns {
    /// Every design, in the order `compare` shows them.
    public static let all: [any ConnTrackTable.Type] = [
        BucketTable.self,
        GlobalLockTable.self,
        FastTable.self,
        NullTable.self,
        OVSTable.self,
        LinuxTable.self,
    ]

    public static var names: [String] { all.map { $0.traits.name } }

    /// A registered design by name; "plugin:PATH" loads a plugin
    /// (`PluginLoader`), and a loaded plugin is also found by its own name.
    public static func named(_ name: String) -> (any ConnTrackTable.Type)? {
        if PluginLoader.isPluginSpec(name) { return PluginLoader.tableType(name) }
        return all.first { $0.traits.name == name } ?? PluginLoader.named(name)?.tableType
    }

    /// Why `name` names no design, when it is a plugin that was refused.
    public static func loadError(_ name: String) -> String? { PluginLoader.error(for: name) }

    /// One entry per design and variant: what `compare` runs side by side.
    public static var entries: [DesignEntry] {
        all.flatMap { d -> [DesignEntry] in
            let t = d.traits
            if t.variants.isEmpty { return [DesignEntry(design: d, variant: nil)] }
            return t.variants.map { DesignEntry(design: d, variant: $0) }
        }
    }
}

/// A design with one of its variants.
public struct DesignEntry: Sendable, CustomStringConvertible {
    public let design: any ConnTrackTable.Type
    public let variant: Variant?

    public init(design: any ConnTrackTable.Type, variant: Variant?) {
        self.design = design; self.variant = variant
    }

    public var traits: DesignTraits { design.traits }
    /// "seed2020", "fixed", "global-lock", "null".
    public var label: String { traits.label(variant) }
    public var description: String { label }
}
