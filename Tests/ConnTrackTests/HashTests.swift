import Foundation
import Testing
@testable import ConnTrack
import TestSupport

@Suite(.oneThread) struct HashTests {
    @Test func everyJenkinsVectorMatches() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let text = try String(contentsOf: here.appendingPathComponent("jenkins-vectors.tsv"), encoding: .utf8)
        // The copy must equal the seed's, when the shared folder is beside us.
        let shared = here.appendingPathComponent("../../../shared/seed/jenkins-vectors.tsv").standardizedFileURL
        if let original = try? String(contentsOf: shared, encoding: .utf8) { #expect(original == text) }
        var rows = 0
        for line in text.split(separator: "\n").dropFirst() where !line.isEmpty {
            let f = line.split(separator: "\t").map(String.init)
            #expect(f.count == 9)
            let seed = UInt32(f[0].dropFirst(2), radix: 16)!
            let (src, net) = try #require(IPAddress.parse(f[1]))
            let (dst, _) = try #require(IPAddress.parse(f[2]))
            let id = TupleID(srcAddr: src, srcPort: UInt16(f[3])!, dstAddr: dst, dstPort: UInt16(f[4])!,
                             transProto: TransProto(rawValue: UInt8(f[5])!)!,
                             netProto: NetProto(rawValue: UInt16(f[6].dropFirst(2), radix: 16)!)!)
            #expect(id.netProto == net)
            #expect(JenkinsHash.hash(id, seed: seed) == UInt32(f[7].dropFirst(2), radix: 16)!, "\(line)")
            #expect(JenkinsHash.bucket(id, seed: seed, count: 16384) == Int(f[8])!, "\(line)")
            rows += 1
        }
        #expect(rows == 7)
    }

    @Test func addressParsingRoundTrips() throws {
        let (a, n) = try #require(IPAddress.parse("2001:db8::1"))
        #expect(n == .ipv6)
        #expect(a.formatted(.ipv6) == "2001:db8:0:0:0:0:0:1")
        #expect(IPAddress.parse("10.0.0.256") == nil)
        #expect(IPAddress.parse("1::2::3") == nil)
        #expect(IPAddress.parse("10.1.2.3")?.0.formatted(.ipv4) == "10.1.2.3")
    }

    @Test func natReplyComesFromTheRedirectTarget() {
        let id = tcpTuple(v4(10, 0, 0, 1), 40000, v4(1, 2, 3, 4), 80)
        let r = id.redirectedReply(to: v4(192, 168, 0, 9), port: 8080)
        #expect(r.srcAddr == v4(192, 168, 0, 9) && r.srcPort == 8080)
        #expect(r.dstAddr == id.srcAddr && r.dstPort == id.srcPort)
        #expect(r != id.reversed)
    }
}
