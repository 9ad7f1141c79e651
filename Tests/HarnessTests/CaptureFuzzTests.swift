import ConnTrack
import FlowGen
import Foundation
import Testing
import TestSupport

/// A seeded mutation fuzzer for the capture reader: every mutated capture
/// must either parse or be refused with a `PcapError` naming a byte offset,
/// never trap. The corpus (`Corpus/*.pcap`, small generated captures) seeds
/// the mutations; any input that once crashed the reader is kept there as
/// a regression case. Bounded: a fixed number of mutations per seed.
@Suite(.oneThread) struct CaptureFuzzTests {
    /// Deterministic xorshift, so a failure names a reproducible case.
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    static func corpus() -> [[UInt8]] {
        // The committed corpus (generated with `conntrack-bench generate`),
        // plus the same kinds generated here.
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
        var seeds: [[UInt8]] = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            .compactMap { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path).map(Array.init) }
        #expect(seeds.count >= 3, "the corpus in Tests/HarnessTests/Corpus is missing")
        for (scenario, v6) in [(ScenarioKind.mix, 0.5), (.nat, 0.0), (.udp, 1.0)] {
            var o = ScenarioOptions()
            o.scenario = scenario; o.flows = 20; o.packets = 60; o.ipv6Ratio = v6
            var g = FlowGenerator(o)
            var w = PcapWriter()
            while let p = g.next() { w.append(p) }
            seeds.append(w.bytes)
        }
        return seeds
    }

    @Test func mutatedCapturesParseOrFailWithAnOffset() {
        var rng = Rng(s: 0x9E37_79B9_7F4A_7C15)
        var refused = 0, parsed = 0
        for (k, seed) in Self.corpus().enumerated() {
            for i in 0..<1500 {
                var d = seed
                switch rng.below(5) {
                case 0:  // flip bytes
                    for _ in 0..<(1 + rng.below(8)) { d[rng.below(d.count)] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 1:  // truncate
                    d.removeLast(rng.below(d.count))
                case 2:  // corrupt a length field of some record header
                    let o = 24 + rng.below(max(1, d.count - 40))
                    for j in 0..<4 where o + j < d.count { d[o + j] = UInt8(truncatingIfNeeded: rng.next()) }
                case 3:  // duplicate a slice
                    let a = rng.below(d.count), n = rng.below(200)
                    d.insert(contentsOf: d[a..<min(d.count, a + n)], at: rng.below(d.count))
                default: // set header bytes to extremes
                    for _ in 0..<(1 + rng.below(4)) { d[rng.below(min(d.count, 80))] = rng.below(2) == 0 ? 0 : 0xff }
                }
                var stats = PcapStats()
                do {
                    _ = try PcapReader.parse(d, name: "fuzz-\(k)-\(i)", stats: &stats)
                    parsed += 1
                } catch {
                    refused += 1
                    #expect(error.description.contains("byte offset"), "seed \(k) case \(i): \(error)")
                }
            }
        }
        #expect(parsed > 0 && refused > 0)
    }
}
