#if canImport(Glibc)
import Glibc
#endif

/// The text of a small file the kernel makes up on read (/proc, /sys), or
/// nil when it cannot be read (another kernel, another system).
func readProcFile(_ path: String, limit: Int = 4096) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: limit)
    var n = 0
    while n < limit {
        let r = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, limit - n) }
        if r < 0 && errno == EINTR { continue }
        guard r > 0 else { break }
        n += r
    }
    return String(decoding: bytes[0..<n], as: UTF8.self)
}
