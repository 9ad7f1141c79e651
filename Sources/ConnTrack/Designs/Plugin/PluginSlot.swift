/// `ConnTrackTable.traits` is static and the harness is generic over
/// table types, so each loaded plugin gets a type of its own: the adapter
/// `PluginTable<Slot>` over one of a few slot types, whose static storage
/// holds the loaded descriptor. Everything stays specialised per plugin,
/// and `compare --design plugin:A --design plugin:B` runs both.
public protocol PluginSlot {
    /// The plugin this slot holds; set once by `PluginLoader` before any
    /// table of the slot exists.
    static var plugin: LoadedPlugin? { get set }
}

// The slots. A process loads at most `PluginLoader.maxPlugins` plugins.
public enum PluginSlot0: PluginSlot { nonisolated(unsafe) public static var plugin: LoadedPlugin? }
public enum PluginSlot1: PluginSlot { nonisolated(unsafe) public static var plugin: LoadedPlugin? }
public enum PluginSlot2: PluginSlot { nonisolated(unsafe) public static var plugin: LoadedPlugin? }
public enum PluginSlot3: PluginSlot { nonisolated(unsafe) public static var plugin: LoadedPlugin? }
