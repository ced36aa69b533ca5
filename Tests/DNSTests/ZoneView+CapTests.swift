@testable import FleetDNS
import Foundation
import Testing

/// A name with more records than one DNS message can carry (issue 11): the prepared answer
/// keeps what fits, and every reply for it says TC.
@Suite struct ZoneViewCapTests {
    static func records(_ count: Int) -> [DNSRecord] {
        (0..<count).map { (i: Int) -> DNSRecord in
            let b = UInt8(truncatingIfNeeded: i >> 16), c = UInt8(truncatingIfNeeded: i >> 8), d = UInt8(truncatingIfNeeded: i)
            return DNSRecord(name: "web.fleet.", ttl: 5, data: .a(IPv4Bytes(10, b, c, d)))
        }
    }

    @Test func morethan65535RecordsAreCappedNotATrap() throws {
        let prepared = PreparedAnswer.encode(question: "web.fleet.", answers: Self.records(70_000),
                                             authority: Self.records(1))
        #expect(prepared.isCapped)
        #expect(prepared.authorityCount == 0)
        #expect(Int(prepared.answerCount) == prepared.answerEnds.count)
        let head = DNSHeaderBits.headerLength + DNSName("web.fleet.").wire.count + 4
        #expect(head + prepared.body.count + 11 <= 65535)
        #expect(prepared.answerEnds.last == prepared.body.count)
    }

    @Test func aFewRecordsAreNotCapped() {
        let prepared = PreparedAnswer.encode(question: "web.fleet.", answers: Self.records(100))
        #expect(!prepared.isCapped && prepared.answerCount == 100)
    }

    /// The responder's side: a capped answer sets TC on every transport, and what is sent fits.
    @Test func aCappedAnswerIsSentTruncatedOverTCPAndUDP() throws {
        let capped = PreparedAnswer.encode(question: "web.fleet.", answers: Self.records(70_000))
        let a = DNSRecordType.a.rawValue
        let node = ZoneNode(name: "web.fleet.", authoritative: true, answers: [(type: a, variants: [capped])],
                            any: nil, noData: .empty)
        var table = NameTable()
        table.insert(node)
        let zone = ZoneView(apex: "fleet.", generation: 1, table: table, negativeSOATail: [])
        let tcp = try ask(zone, "web.fleet.", .a, transport: .tcp)
        #expect(tcp.isTruncated, "more records than one message holds")
        #expect(tcp.answers.count == Int(capped.answerCount))
        let udp = try ask(zone, "web.fleet.", .a)
        #expect(udp.isTruncated && udp.answers.count < 100)
    }
}
