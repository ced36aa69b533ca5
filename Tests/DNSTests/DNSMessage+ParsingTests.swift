@testable import FleetDNS
import Testing

@Suite struct DNSMessageParsingTests {
    static let everyType = DNSMessage(
        id: 0xBEEF, isResponse: true, isAuthoritative: true, recursionDesired: true, rcode: .noError,
        questions: [DNSQuestion(name: "web.fleet.", type: .any)],
        answers: [
            DNSRecord(name: "web.fleet.", ttl: 5, data: .a(IPv4Bytes(10, 0, 0, 1))),
            DNSRecord(name: "web.fleet.", ttl: 5, data: .aaaa(IPv6Bytes([0xFD] + Array(repeating: 0, count: 14) + [1])!)),
            DNSRecord(name: "web.fleet.", ttl: 5, data: .txt([Array("instance=1".utf8), Array("a=b".utf8)])),
            DNSRecord(name: "_web._tcp.fleet.", ttl: 5, data: .srv(priority: 1, weight: 2, port: 8080,
                                                                  target: "node1.machine.fleet.")),
            DNSRecord(name: "1.0.0.10.in-addr.arpa.", ttl: 5, data: .ptr("node1.machine.fleet.")),
            DNSRecord(name: "alias.fleet.", ttl: 5, data: .cname("web.fleet.")),
            DNSRecord(name: "web.fleet.", ttl: 5, data: .unknown(type: .mx, bytes: [0, 10, 0])),
        ],
        authority: [
            DNSRecord(name: "fleet.", ttl: 60, data: .ns("ns.fleet.")),
            DNSRecord(name: "fleet.", ttl: 5, data: .soa(DNSSOA(primaryServer: "ns.fleet.", responsibleMailbox: "hostmaster.fleet.",
                                                             serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4))),
        ],
        additional: [DNSRecord(name: "node1.machine.fleet.", ttl: 5, data: .a(IPv4Bytes(10, 0, 0, 1)))],
        edns: DNSEDNS(udpPayloadSize: 4096, dnssecOK: true, options: [DNSEDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])]))

    @Test(arguments: [true, false])
    func everyRecordTypeRoundTrips(compress: Bool) throws {
        let wire = Self.everyType.encoded(compress: compress)
        #expect(try DNSMessage(wire: wire) == Self.everyType)
    }

    @Test func compressionShrinksAndPointsBackwards() {
        let compressed = Self.everyType.encoded(compress: true)
        let plain = Self.everyType.encoded(compress: false)
        #expect(compressed.count < plain.count - 60)
        // The first answer's owner is the question's name: a pointer to offset 12.
        let firstAnswer = 12 + DNSName("web.fleet.").wireLength + 4
        #expect(Array(compressed[firstAnswer..<firstAnswer + 2]) == [0xC0, 0x0C])
    }

    @Test func extendedResponseCodesTravelInOPT() throws {
        var message = DNSMessage(id: 1, isResponse: true, rcode: .badVersion, edns: DNSEDNS(extendedRCode: 1))
        message.questions = [DNSQuestion(name: "fleet.", type: .soa)]
        let parsed = try DNSMessage(wire: message.encoded())
        #expect(parsed.rcode == .badVersion)
        #expect(parsed.edns?.extendedRCode == 1)
    }

    // MARK: Malformed input

    func header(qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        [0x12, 0x34, 0x01, 0x00, UInt8(qd >> 8), UInt8(qd & 0xFF), UInt8(an >> 8), UInt8(an & 0xFF),
         UInt8(ns >> 8), UInt8(ns & 0xFF), UInt8(ar >> 8), UInt8(ar & 0xFF)]
    }

    func parseError(_ bytes: [UInt8]) -> DNSParseError.Code? {
        do {
            _ = try DNSMessage(wire: bytes)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func pointerLoopsAreRejected() {
        // Offset 12: a pointer to itself.
        #expect(parseError(header() + [0xC0, 0x0C, 0, 1, 0, 1]) == .badPointer)
        // Offset 12: label "a", then a pointer back to 12: a loop of two steps.
        #expect(parseError(header() + [1, 0x61, 0xC0, 0x0C, 0, 1, 0, 1]) == .badPointer)
        // Two names pointing at each other: the answer's owner points to the question, whose
        // label is followed by a pointer forward into the answer.
        let packet = header(an: 1) + [1, 0x61, 0xC0, 0x14, 0, 1, 0, 1] + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]
        #expect(parseError(packet) == .badPointer)
    }

    @Test func pointersOutOfRangeAreRejected() {
        #expect(parseError(header() + [0xFF, 0xFF, 0, 1, 0, 1]) == .badPointer)
        #expect(parseError(header() + [0xC0]) == .truncated)
    }

    @Test func backwardPointersAreFollowed() throws {
        // The answer's owner "www" + pointer to the question's "fleet." at 12.
        let packet = header(an: 1) + [5] + Array("fleet".utf8) + [0, 0, 1, 0, 1]
            + [3] + Array("www".utf8) + [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]
        let message = try DNSMessage(wire: packet)
        #expect(message.answers.first?.name == "www.fleet.")
    }

    @Test func reservedLabelTypesAreRejected() {
        #expect(parseError(header() + [0x41, 0x61, 0, 0, 1, 0, 1]) == .badLabelType)
        #expect(parseError(header() + [0x81, 0x61, 0, 0, 1, 0, 1]) == .badLabelType)
    }

    @Test func namesLongerThan255BytesAreRejected() {
        var name: [UInt8] = []
        for _ in 0..<5 { name += [63] + Array(repeating: 0x61, count: 63) }
        #expect(parseError(header() + name + [0, 0, 1, 0, 1]) == .nameTooLong)
    }

    @Test func truncationAnywhereIsReported() {
        let wire = Self.everyType.encoded()
        for length in 0..<wire.count {
            #expect(parseError(Array(wire.prefix(length))) != nil, "cut at \(length)")
        }
    }

    @Test func recordDataMustMatchItsType() {
        // An A record with five bytes of data.
        let packet = header(qd: 0, an: 1) + [0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 5, 1, 2, 3, 4, 5]
        #expect(parseError(packet) == .badRecordData)
    }

    @Test func optMustBeSingleRootAndInAdditional() {
        let opt: [UInt8] = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]
        #expect(parseError(header(qd: 0, ar: 2) + opt + opt) == .badOPT)
        #expect(parseError(header(qd: 0, an: 1) + opt) == .badOPT)
        #expect(parseError(header(qd: 0, ar: 1) + [1, 0x61, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]) == .badOPT)
        // An option claiming more bytes than the OPT holds.
        #expect(parseError(header(qd: 0, ar: 1) + [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9]) == .badOPT)
    }
}
