import CTBDesignABI

/// A plugin the loader accepted: its descriptor (valid while the process
/// lives: plugins are never unloaded) and what the harness derived from it.
public final class LoadedPlugin: @unchecked Sendable {
    /// `--design plugin:PATH` as given.
    public let spec: String
    public let path: String
    /// immutable: the descriptor the plugin returned.
    let design: UnsafePointer<ctb_design>
    /// The plugin's name, as a C string that lives as long as the process
    /// (the crash guard prints it from a signal handler).
    let cName: UnsafeMutablePointer<CChar>
    public let name: String
    public let traits: DesignTraits
    /// The descriptor's knobs (name, range, default), in declaration order.
    public let knobs: [PluginKnob]
    /// Whether its locks are reported through the hooks.
    public var locksObserved: Bool { design.pointee.traits & CTB_TRAIT_REPORTS_LOCKS != 0 }
    /// The type that runs it (`PluginTable<PluginSlotN>`).
    public internal(set) var tableType: (any ConnTrackTable.Type)!

    init(spec: String, path: String, design: UnsafePointer<ctb_design>, name: String, traits: DesignTraits,
         knobs: [PluginKnob]) {
        self.spec = spec; self.path = path; self.design = design; self.name = name; self.traits = traits
        self.knobs = knobs
        cName = strdupOrDie(name)
    }

    func has(_ trait: UInt32) -> Bool { design.pointee.traits & trait != 0 }
}

/// One of a plugin's own settings (`ctb_knob`).
public struct PluginKnob: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var range: ClosedRange<Int>
    public var defaultValue: Int
}

func strdupOrDie(_ s: String) -> UnsafeMutablePointer<CChar> {
    let bytes = Array(s.utf8CString)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    p.initialize(from: bytes, count: bytes.count)
    return p
}
