/// Netfilter hooks; the tracker's "outbound" side is the hook that
/// initialised it.
public enum Hook: UInt8, Sendable, Codable, CaseIterable {
    case prerouting, input, forward, output, postrouting
}

/// Which of its connection's two tuples a tuple is.
public enum Direction: UInt8, Sendable, Codable {
    case original, reply
}
