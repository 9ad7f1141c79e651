import ArgumentParser
import ConnTrack
import Foundation

/// Runs library code whose configuration errors are usage errors (exit 2,
/// one line).
func usage<T>(_ body: () throws(ConfigError) -> T) throws -> T {
    do { return try body() } catch { throw ValidationError(error.description) }
}

/// `value` as pretty, key-sorted JSON with a final newline.
func jsonBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    return Array(try enc.encode(value)) + [0x0a]
}

/// "1,2,4" as integers in `range`, or a usage error naming `option`.
func intList(_ s: String, _ option: String, _ range: ClosedRange<Int>) throws -> [Int] {
    let v = s.split(separator: ",").map { Int($0.filter { $0 != " " }) }
    guard !v.isEmpty, v.allSatisfy({ $0 != nil && range.contains($0!) }) else {
        throw ValidationError("\(option) must be a comma-separated list of integers in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
    }
    return v.map { $0! }
}
