/// 64 bytes that keep the stored properties declared before and after it
/// on different cache lines: a line one thread writes while another spins
/// reading a different field on it moves between their cores at every
/// write (false sharing). Swift lays a class's stored properties out in
/// the order they are declared.
public struct CacheLinePad: Sendable {
    private var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}
}
