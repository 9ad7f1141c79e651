#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTBDesignABI
import Sync

/// Why a plugin was refused: one line naming the plugin and what is wrong.
public struct PluginLoadError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Loads plugins named by `--design plugin:PATH`, checks their descriptor,
/// and gives each its own `PluginTable<Slot>` type. Loading happens while
/// the CLI reads its options, before any table exists; a plugin stays
/// loaded for the process's life (its code may still be on a stack).
public enum PluginLoader {
    public static let prefix = "plugin:"
    /// Slots available (`PluginSlot0` …).
    public static let maxPlugins = 4

    // The loaded plugins and refusals, by spec: written while options are
    // read, before any table of the plugin exists (tests may load from
    // several threads at once). protected by `mutex`, a leaf taken alone
    // (outside the table lock order).
    static let mutex = HeapMutex()
    nonisolated(unsafe) static var loaded: [String: LoadedPlugin] = [:]
    nonisolated(unsafe) static var refused: [String: PluginLoadError] = [:]
    nonisolated(unsafe) static var order: [LoadedPlugin] = []

    /// The harness's own option names (without dashes), which a knob may
    /// not take: the CLI gives them from its commands' declarations, read
    /// when the first plugin loads (help text is not built for runs
    /// without one). protected by `mutex`.
    nonisolated(unsafe) static var harnessOptionNames: (@Sendable () -> Set<String>)?
    nonisolated(unsafe) static var harnessOptions: Set<String>?

    /// Where the option names no knob may take come from (the CLI's).
    public static func reserveOptionNames(_ names: @escaping @Sendable () -> Set<String>) {
        mutex.lock()
        defer { mutex.unlock() }
        harnessOptionNames = names
        harnessOptions = nil
    }

    /// Every plugin loaded so far, in load order.
    public static var plugins: [LoadedPlugin] {
        mutex.lock()
        defer { mutex.unlock() }
        return order
    }

    public static func isPluginSpec(_ s: String) -> Bool { s.hasPrefix(prefix) }

    /// The table type of `spec` ("plugin:PATH"), loading it on first use;
    /// nil when it was refused (`error(for:)` says why).
    public static func tableType(_ spec: String) -> (any ConnTrackTable.Type)? {
        switch load(spec) {
        case .success(let p): return p.tableType
        case .failure: return nil
        }
    }

    /// The one-line reason `spec` was refused, if it was.
    public static func error(for spec: String) -> String? {
        guard isPluginSpec(spec), case .failure(let e) = load(spec) else { return nil }
        return e.description
    }

    /// A loaded plugin by its own name (a report's design), if any.
    public static func named(_ name: String) -> LoadedPlugin? { plugins.first { $0.name == name } }

    public static func load(_ spec: String) -> Result<LoadedPlugin, PluginLoadError> {
        mutex.lock()
        defer { mutex.unlock() }
        if let p = loaded[spec] { return .success(p) }
        if let e = refused[spec] { return .failure(e) }
        do {
            let p = try loadNew(spec)
            loaded[spec] = p
            order.append(p)
            return .success(p)
        } catch {
            refused[spec] = error
            return .failure(error)
        }
    }

    /// Preconditions: `mutex` is locked.
    static func loadNew(_ spec: String) throws(PluginLoadError) -> LoadedPlugin {
        let path = String(spec.dropFirst(prefix.count))
        func fail(_ what: String) -> PluginLoadError { PluginLoadError(description: "--design \(spec): \(what)") }
        guard !path.isEmpty else { throw fail("no path given (use plugin:PATH to a shared object)") }
        var st = stat()
        guard stat(path, &st) == 0 else { throw fail(String(cString: strerror(errno)).lowercased()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw fail("not a regular file") }
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = ctb_dlopen(path, &err, err.count) else {
            // dlerror() starts with the path; the rest says what is wrong
            // ("invalid ELF header", "undefined symbol: f", ...).
            var why = err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if why.hasPrefix(path + ": ") { why.removeFirst(path.count + 2) }
            throw fail("not a loadable shared object (\(why))")
        }
        guard let entry = ctb_dlsym_design(handle) else {
            ctb_dlclose(handle)
            throw fail("does not export \(CTB_DESIGN_SYMBOL) (not a conntrack-bench plugin)")
        }
        ctb_guard_install()
        ctb_guard_enter(strdupOrDie(path), PluginEntry.entry.p)
        let given = entry()
        ctb_guard_leave()
        guard let given else { throw fail("\(CTB_DESIGN_SYMBOL)() returned NULL") }
        let version = UnsafeRawPointer(given).load(as: UInt32.self)
        guard (2...CTB_ABI_VERSION).contains(version) else {
            throw fail("plugin ABI version \(version), but this conntrack-bench speaks ABI versions 2, 3 and \(CTB_ABI_VERSION)"
                       + (version == 1 ? " (version 2 passes the call site, file and line, to will_acquire: rebuild with the current header)" : ""))
        }
        let d = Self.fullDescriptor(given, version: version)
        let name = d.pointee.name.map { String(cString: $0) }
        guard let name, !name.isEmpty else { throw fail("the descriptor's name is NULL or empty") }
        let who = "--design \(spec) (\(name))"
        guard name.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" }) else {
            throw PluginLoadError(description: "\(who): its name must use only a-z, 0-9 and -")
        }
        if TableDesigns.all.contains(where: { $0.traits.name == name }) {
            throw PluginLoadError(description: "\(who): its name clashes with the built-in design \(name)")
        }
        if let other = order.first(where: { $0.name == name }) {
            throw PluginLoadError(description: "\(who): its name clashes with the plugin \(other.spec)")
        }
        let required: [(String, Bool)] = [
            ("summary", d.pointee.summary != nil), ("create", d.pointee.create != nil),
            ("destroy", d.pointee.destroy != nil), ("process_batch", d.pointee.process_batch != nil),
            ("sweep_slots", d.pointee.sweep_slots != nil), ("reap_pass", d.pointee.reap_pass != nil),
            ("for_each_connection", d.pointee.for_each_connection != nil),
            ("import_connections", d.pointee.import_connections != nil),
        ]
        if let missing = required.filter({ !$0.1 }).map(\.0).first {
            throw PluginLoadError(description: "\(who): required entry point \(missing) is NULL")
        }
        if (d.pointee.worker_create == nil) != (d.pointee.worker_destroy == nil) {
            throw PluginLoadError(description: "\(who): worker_create and worker_destroy must both be set or both NULL")
        }
        let policy = d.pointee.default_policy.map { String(cString: $0) } ?? "seed"
        guard ["seed", "linux2022", "cilium"].contains(policy) else {
            throw PluginLoadError(description: "\(who): default_policy must be seed, linux2022 or cilium, got '\(policy)'")
        }
        var knobs: [PluginKnob] = []
        for i in 0..<Int(d.pointee.knob_count) {
            guard let k = d.pointee.knobs?[i], let kn = k.name else {
                throw PluginLoadError(description: "\(who): knob \(i) is missing (knobs NULL or name NULL)")
            }
            let kname = String(cString: kn)
            guard k.min <= k.max, (k.min...k.max).contains(k.default_value), !kname.isEmpty else {
                throw PluginLoadError(description: "\(who): knob '\(kname)' needs a name and min <= default <= max")
            }
            let taken = ["buckets"] + [ReaperPolicyChoice.seed(SeedReaperPolicy()), .linux2022(Linux2022ReaperPolicy()),
                                       .cilium(CiliumReaperPolicy())].flatMap { $0.knobs.map(\.name) }
            guard !taken.contains(kname), !knobs.contains(where: { $0.name == kname }) else {
                throw PluginLoadError(description: "\(who): knob '\(kname)' clashes with a setting of the harness or another knob")
            }
            if harnessOptions == nil { harnessOptions = harnessOptionNames?() ?? [] }
            guard !harnessOptions!.contains(kname) else {
                throw PluginLoadError(description: "\(who): knob '\(kname)' is named after the harness option --\(kname) (a knob needs a name of its own)")
            }
            knobs.append(PluginKnob(name: kname, summary: k.summary.map { String(cString: $0) } ?? "",
                                    range: Int(k.min)...Int(k.max), defaultValue: Int(k.default_value)))
        }
        guard order.count < maxPlugins else {
            throw PluginLoadError(description: "\(who): at most \(maxPlugins) plugins can be loaded at once")
        }
        let traits = makeTraits(d, name: name, policy: policy, knobs: knobs)
        let plugin = LoadedPlugin(spec: spec, path: path, design: d, name: name, traits: traits, knobs: knobs)
        switch order.count {
        case 0: PluginSlot0.plugin = plugin; plugin.tableType = PluginTable<PluginSlot0>.self
        case 1: PluginSlot1.plugin = plugin; plugin.tableType = PluginTable<PluginSlot1>.self
        case 2: PluginSlot2.plugin = plugin; plugin.tableType = PluginTable<PluginSlot2>.self
        default: PluginSlot3.plugin = plugin; plugin.tableType = PluginTable<PluginSlot3>.self
        }
        return plugin
    }

    /// The descriptor as this harness reads it: the plugin's own for the
    /// current version; for an older one, whose descriptor ends before the
    /// later entries (version 2 before the ABI 3 ones, version 3 before
    /// ABI 4's), a copy of it with those entries NULL (reading them from
    /// the plugin's would read past its end). Never freed: plugins are
    /// never unloaded.
    static func fullDescriptor(_ d: UnsafePointer<ctb_design>, version: UInt32) -> UnsafePointer<ctb_design> {
        guard version < CTB_ABI_VERSION else { return d }
        let v2Size = version == 2 ? MemoryLayout<ctb_design>.offset(of: \ctb_design.dump_running)!
                                  : MemoryLayout<ctb_design>.offset(of: \ctb_design.resize_running)!
        let copy = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<ctb_design>.size,
                                                    alignment: MemoryLayout<ctb_design>.alignment)
        copy.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<ctb_design>.size)
        copy.copyMemory(from: UnsafeRawPointer(d), byteCount: v2Size)
        return UnsafePointer(copy.assumingMemoryBound(to: ctb_design.self))
    }

    static func makeTraits(_ d: UnsafePointer<ctb_design>, name: String, policy: String, knobs: [PluginKnob]) -> DesignTraits {
        let f = d.pointee.traits
        func has(_ t: UInt32) -> Bool { f & t != 0 }
        var t = DesignTraits(
            name: name, summary: String(cString: d.pointee.summary),
            hasHashSeed: has(CTB_TRAIT_HASH_SEED), slotName: d.pointee.slot_name.map { String(cString: $0) },
            sizedByBuckets: has(CTB_TRAIT_SIZED_BY_BUCKETS), variants: [], defaultVariant: nil, faults: [],
            connectionLimit: has(CTB_TRAIT_CONNECTION_LIMIT), tracksConnections: has(CTB_TRAIT_TRACKS_CONNECTIONS),
            incompleteSweepVariants: [])
        t.defaultPolicy = policy
        t.bytesPerConnection = Int(d.pointee.bytes_per_connection)
        t.pluginCompleteSweep = has(CTB_TRAIT_COMPLETE_SWEEP)
        t.locksObserved = has(CTB_TRAIT_REPORTS_LOCKS)
        t.traces = has(CTB_TRAIT_TRACES)
        t.operatesWhileRunning = d.pointee.dump_running != nil && d.pointee.remove_running != nil
        t.resizesWhileRunning = d.pointee.resize_running != nil
        t.noResizeReason = "the plugin has no resize_running (ABI 4, docs/plugins.md)"
        var k: [Knob<TableConfig>] = []
        if has(CTB_TRAIT_SIZED_BY_BUCKETS) { k.append(.buckets("hash buckets", grid: [1024, 4096, 16384, 65536, 262144])) }
        for (i, kn) in knobs.enumerated() {
            let def = kn.defaultValue
            let grid = Array(Set([kn.range.lowerBound, def, kn.range.upperBound])).sorted()
            let name = kn.name
            k.append(Knob(name, summary: kn.summary, range: kn.range, grid: grid, viaSet: true,
                          get: { $0.pluginKnobs[i] ?? $0.knobSettings[name] ?? def }, set: { $0.pluginKnobs[i] = $1 }))
        }
        t.knobs = k
        return t
    }
}
