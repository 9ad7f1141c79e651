// pcapng, Wireshark's default format: a Section Header Block (its magic
// gives the byte order), Interface Description Blocks (link type and
// timestamp resolution per interface) and Enhanced Packet Blocks. Other
// blocks (name resolution, statistics, simple packets, custom) are skipped
// and counted. The blocks are read by `CaptureCursor`.
extension PcapReader {
    /// One interface of the current section.
    struct Interface {
        var link: UInt32
        /// Timestamp units per second.
        var unitsPerSecond: UInt64
    }
}
