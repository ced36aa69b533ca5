@testable import FleetDNS
import NIOCore
import Testing

@Suite struct DNSResponderTests {
    static let records = [
        Fixture.record("web", "1", machine: "node1", address: "10.0.0.1", metadata: ["version": "1.2", "role": "front"]),
        Fixture.record("web", "2", machine: "node2", address: "10.0.0.2"),
        Fixture.record("web", "3", machine: "node3", address: "fd00::3", ports: [.init(port: 9000, proto: "udp")]),
        Fixture.record("web", "4", machine: "node4", address: "10.0.0.4", healthy: false),
        Fixture.record("db", "db", machine: "node1", address: "10.0.0.1", ports: [.init(port: 5432)], ttl: 30),
    ]
    let zone = Fixture.zone(Self.records)

    // MARK: Name kinds

    @Test func serviceNameGivesHealthyAddresses() throws {
        let a = try ask(zone, "web.fleet.", .a)
        #expect(a.rcode == .noError)
        #expect(a.isAuthoritative && a.isResponse && a.id == 0x4242)
        #expect(Set(a.addresses) == ["10.0.0.1", "10.0.0.2"], "web/4 is unhealthy, web/3 has an IPv6 address")
        #expect(a.answers.allSatisfy { $0.ttl == 5 && $0.name == "web.fleet." })
        let aaaa = try ask(zone, "web.fleet.", .aaaa)
        #expect(aaaa.addresses == ["fd00:0:0:0:0:0:0:3"])
    }

    @Test func instanceNameGivesOneInstance() throws {
        #expect(try ask(zone, "2.web.fleet.", .a).addresses == ["10.0.0.2"])
        #expect(try ask(zone, "3.web.fleet.", .aaaa).addresses == ["fd00:0:0:0:0:0:0:3"])
        let txt = try ask(zone, "1.web.fleet.", .txt)
        #expect(txt.answers.map(\.data) == [.txt([Array("role=front".utf8), Array("version=1.2".utf8)])])
        let srv = try ask(zone, "1.web.fleet.", .srv)
        #expect(srv.answers.map(\.data) == [.srv(priority: 1, weight: 1, port: 8080, target: "node1.machine.fleet.")])
    }

    @Test func serviceTXTHasOneRecordPerInstance() throws {
        let txt = try ask(zone, "web.fleet.", .txt)
        #expect(Set(txt.answers.map(\.data)) == [
            .txt([Array("instance=1".utf8), Array("role=front".utf8), Array("version=1.2".utf8)]),
            .txt([Array("instance=2".utf8)]),
            .txt([Array("instance=3".utf8)]),
        ])
    }

    @Test func instanceWithoutMetadataHasNoTXT() throws {
        let reply = try ask(zone, "2.web.fleet.", .txt)
        #expect(reply.rcode == .noError && reply.answers.isEmpty && reply.authority.first?.type == .soa)
    }

    @Test func srvByProtocolWithTargetsInAdditional() throws {
        let srv = try ask(zone, "_web._tcp.fleet.", .srv)
        #expect(Set(srv.answers.map(\.data)) == [
            .srv(priority: 1, weight: 1, port: 8080, target: "node1.machine.fleet."),
            .srv(priority: 1, weight: 1, port: 8080, target: "node2.machine.fleet."),
        ])
        #expect(Set(srv.additional.map { "\($0.name) \($0.data)" }) == [
            "node1.machine.fleet. a(10.0.0.1)", "node2.machine.fleet. a(10.0.0.2)",
        ])
        let udp = try ask(zone, "_web._udp.fleet.", .srv)
        #expect(udp.answers.map(\.data) == [.srv(priority: 1, weight: 1, port: 9000, target: "node3.machine.fleet.")])
        #expect(udp.additional.map(\.type) == [.aaaa])
        let named = try ask(zone, "_http._tcp.web.fleet.", .srv)
        #expect(named.answers.count == 2)
    }

    @Test func machineNamesHaveTheirAddresses() throws {
        #expect(try ask(zone, "node1.machine.fleet.", .a).addresses == ["10.0.0.1"])
        // Machines keep their address while their only instance is unhealthy.
        #expect(try ask(zone, "node4.machine.fleet.", .a).addresses == ["10.0.0.4"])
        #expect(try ask(zone, "node3.machine.fleet.", .aaaa).addresses == ["fd00:0:0:0:0:0:0:3"])
    }

    @Test func reverseNamesPointAtMachines() throws {
        let v4 = try ask(zone, "1.0.0.10.in-addr.arpa.", .ptr)
        #expect(v4.answers.map(\.data) == [.ptr("node1.machine.fleet.")])
        #expect(!v4.isAuthoritative, "fleet-dns is not the authority for in-addr.arpa")
        let nibbles = "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
        #expect(try ask(zone, DNSName(nibbles)!, .ptr).answers.map(\.data) == [.ptr("node3.machine.fleet.")])
        #expect(try ask(zone, "9.0.0.10.in-addr.arpa.", .ptr).rcode == .refused)
    }

    @Test func apexHasSOAAndNS() throws {
        let soa = try ask(zone, "fleet.", .soa)
        guard case let .soa(record)? = soa.answers.first?.data else {
            Issue.record("no SOA")
            return
        }
        #expect(record.serial == 42 && record.minimum == 5 && record.primaryServer == "ns.fleet.")
        #expect(try ask(zone, "fleet.", .ns).answers.map(\.data) == [.ns("ns.fleet.")])
    }

    @Test func nameserverAddressesAreGlue() throws {
        let zone = Fixture.zone([], settings: ZoneSettings(nameserverAddresses: ["10.9.9.9"]))
        let ns = try ask(zone, "fleet.", .ns)
        #expect(ns.additional.map(\.data) == [.a(IPv4Bytes(10, 9, 9, 9))])
        #expect(try ask(zone, "ns.fleet.", .a).addresses == ["10.9.9.9"])
    }

    @Test func answerTTLComesFromTheRecord() throws {
        #expect(try ask(zone, "db.fleet.", .a).answers.map(\.ttl) == [30])
        // One RRset, one TTL: the smallest of the instances' (RFC 2181 §5.2).
        let mixed = Fixture.zone([Fixture.record("x", "1", ttl: 9), Fixture.record("x", "2", address: "10.0.0.2", ttl: 3)])
        #expect(try ask(mixed, "x.fleet.", .a).answers.map(\.ttl) == [3, 3])
    }

    @Test func anyIsAnsweredWithOneHINFO() throws {
        // RFC 8482: not every RRset (the biggest reply a short question could draw), one HINFO.
        let zone = Fixture.zone(Fixture.webInstances(200))
        for transport in [DNSResponder.Transport.udp, .tcp] {
            let any = try ask(zone, "web.fleet.", .any, transport: transport, edns: DNSEDNS(udpPayloadSize: 4096))
            #expect(any.rcode == .noError && !any.isTruncated)
            #expect(any.answers.map(\.type) == [.hinfo])
            #expect(any.answers.first?.data == .unknown(type: .hinfo, bytes: [7] + Array("RFC8482".utf8) + [0]))
            #expect(any.authority.isEmpty && any.additional.isEmpty)
        }
        let wire = try #require(DNSResponder().respond(to: DNSMessage.query("web.fleet.", .any).encoded(), zone: zone))
        #expect(wire.count < 80)
        #expect(try ask(zone, "nope.fleet.", .any).rcode == .nameError)
    }

    // MARK: Negative answers

    @Test func unknownNamesAreNXDOMAINWithSOA() throws {
        let reply = try ask(zone, "nope.fleet.", .a)
        #expect(reply.rcode == .nameError && reply.isAuthoritative)
        #expect(reply.answers.isEmpty)
        #expect(reply.authority.map(\.name) == ["fleet."])
        #expect(reply.authority.first?.ttl == 5, "short negative TTL")
        // Below an existing name, and the unhealthy instance.
        #expect(try ask(zone, "x.1.web.fleet.", .a).rcode == .nameError)
        #expect(try ask(zone, "4.web.fleet.", .a).rcode == .nameError)
    }

    @Test func knownNamesWithoutTheTypeAreNODATA() throws {
        for (name, type) in [("web.fleet.", DNSRecordType.mx), ("node1.machine.fleet.", .aaaa), ("fleet.", .a)] {
            let reply = try ask(zone, DNSName(name)!, type)
            #expect(reply.rcode == .noError && reply.answers.isEmpty, "\(name) \(type)")
            #expect(reply.authority.map(\.type) == [.soa], "\(name) \(type)")
        }
    }

    @Test func emptyNonTerminalsAreNODATA() throws {
        for name in ["machine.fleet.", "_tcp.fleet.", "_tcp.web.fleet."] {
            let reply = try ask(zone, DNSName(name)!, .a)
            #expect(reply.rcode == .noError && reply.answers.isEmpty && reply.authority.count == 1, "\(name)")
        }
    }

    @Test func namesOutsideTheZoneAreRefused() throws {
        let reply = try ask(zone, "example.com.", .a)
        #expect(reply.rcode == .refused && !reply.isAuthoritative && !reply.recursionAvailable)
        #expect(try ask(zone, "xfleet.", .a).rcode == .refused, "a suffix match must be on a label boundary")
    }

    @Test func forwardingRelaysOutsideNamesWhenRecursionIsDesired() throws {
        let responder = DNSResponder(configuration: .init(forwarding: true))
        let query = DNSMessage.query("example.com.", .a).encoded()
        let outcome = query.withUnsafeBytes {
            responder.respond(to: $0, zone: zone, transport: .udp, variant: 0, allocator: ByteBufferAllocator())
        }
        guard case .forward = outcome else {
            Issue.record("expected .forward, got \(outcome)")
            return
        }
        let noRecursion = DNSMessage.query("example.com.", .a, recursionDesired: false).encoded()
        #expect(try DNSMessage(wire: responder.respond(to: noRecursion, zone: zone)!).rcode == .refused)
        let inZone = try #require(responder.respond(to: DNSMessage.query("web.fleet.", .a).encoded(), zone: zone))
        #expect(try DNSMessage(wire: inZone).recursionAvailable)
    }

    @Test func zoneTransfersAndOtherClassesAreRefused() throws {
        #expect(try ask(zone, "fleet.", .axfr, transport: .tcp).rcode == .refused)
        var chaos = DNSMessage.query("version.bind.", .txt)
        chaos.questions[0].recordClass = .chaos
        #expect(try DNSMessage(wire: DNSResponder().respond(to: chaos.encoded(), zone: zone)!).rcode == .refused)
    }

    @Test func aZoneNotYetLoadedAnswersSERVFAIL() throws {
        #expect(try ask(ZoneView.notReady(apex: "fleet."), "web.fleet.", .a).rcode == .serverFailure)
    }

    // MARK: Echoing the question

    @Test func theAskersCaseAndFlagsComeBack() throws {
        let reply = try ask(zone, "WeB.FlEeT.", .a, id: 0x0102)
        #expect(reply.questions.first?.name.description == "WeB.FlEeT.")
        #expect(reply.id == 0x0102 && reply.recursionDesired && !reply.recursionAvailable)
        #expect(reply.answers.count == 2)
    }

    @Test func aCompressedQuestionNameIsAnswered() throws {
        // Resolvers never compress the question, and only the header lies before it; but byte 4
        // (QDCOUNT's high byte, 0) reads as the root name, so a pointer to it is legal.
        let packet: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                               0xC0, 0x04, 0x00, 0x06, 0x00, 0x01]
        let reply = try DNSMessage(wire: try #require(DNSResponder().respond(to: packet, zone: zone)))
        #expect(reply.rcode == .refused)
        #expect(reply.questions == [DNSQuestion(name: .root, type: .soa)], "echoed uncompressed")
    }

    // MARK: Shuffling

    @Test func addressOrderRotatesAcrossQueries() throws {
        let zone = Fixture.zone(Fixture.webInstances(6))
        var firsts: Set<String> = []
        var orders: Set<[String]> = []
        for variant in 0..<16 {
            let addresses = try ask(zone, "web.fleet.", .a, variant: variant).addresses
            #expect(addresses.count == 6 && Set(addresses).count == 6)
            firsts.insert(addresses[0])
            orders.insert(addresses)
        }
        #expect(firsts.count >= 4, "different instances lead")
        #expect(orders.count >= 4)
    }

    @Test func twoInstancesAlternate() throws {
        let zone = Fixture.zone([Fixture.record("x", "1"), Fixture.record("x", "2", address: "10.0.0.2")])
        let first = try ask(zone, "x.fleet.", .a, variant: 0).addresses
        let second = try ask(zone, "x.fleet.", .a, variant: 1).addresses
        #expect(first == second.reversed())
    }

    // MARK: Sizes, truncation, EDNS

    @Test func udpAnswersOver512BytesAreTruncated() throws {
        let zone = Fixture.zone(Fixture.webInstances(40))
        let reply = try ask(zone, "web.fleet.", .a)
        #expect(reply.isTruncated)
        #expect(reply.answers.count > 20 && reply.answers.count < 40, "keeps what fits")
        #expect(DNSMessage.query("web.fleet.", .a).encoded().count < 512)
        let wire = try #require(DNSResponder().respond(to: DNSMessage.query("web.fleet.", .a).encoded(), zone: zone))
        #expect(wire.count <= 512)
    }

    @Test func tcpGetsTheFullAnswer() throws {
        let zone = Fixture.zone(Fixture.webInstances(40))
        let reply = try ask(zone, "web.fleet.", .a, transport: .tcp)
        #expect(!reply.isTruncated && reply.answers.count == 40)
        let srv = try ask(zone, "_web._tcp.fleet.", .srv, transport: .tcp)
        #expect(!srv.isTruncated && srv.answers.count == 40 && srv.additional.count == 40)
    }

    @Test func ednsBufferSizeIsHonoured() throws {
        let zone = Fixture.zone(Fixture.webInstances(40))
        let big = try ask(zone, "web.fleet.", .a, edns: DNSEDNS(udpPayloadSize: 4096))
        #expect(!big.isTruncated && big.answers.count == 40)
        #expect(big.edns?.udpPayloadSize == 1232, "our OPT says what we accept")
        let small = try ask(zone, "web.fleet.", .a, edns: DNSEDNS(udpPayloadSize: 100))
        #expect(small.isTruncated, "below 512 counts as 512")
        #expect(small.edns != nil)
        let srv = try ask(zone, "_web._tcp.fleet.", .srv, edns: DNSEDNS(udpPayloadSize: 1232))
        #expect(srv.isTruncated)
        let wire = try #require(DNSResponder().respond(
            to: DNSMessage.query("_web._tcp.fleet.", .srv, edns: DNSEDNS(udpPayloadSize: 1232)).encoded(), zone: zone))
        #expect(wire.count <= 1232)
    }

    @Test func udpRepliesAreCappedWhateverTheAskerOffers() throws {
        let zone = Fixture.zone(Fixture.webInstances(200))
        let query = DNSMessage.query("_web._tcp.fleet.", .srv, edns: DNSEDNS(udpPayloadSize: 65535)).encoded()
        let capped = try #require(DNSResponder().respond(to: query, zone: zone))
        #expect(capped.count <= 1232, "the default cap, not the 65535 the asker offers")
        #expect(try DNSMessage(wire: capped).isTruncated)
        let wider = DNSResponder(configuration: .init(ednsPayloadSize: 4000))
        let reply = try #require(wider.respond(to: query, zone: zone))
        #expect(reply.count > 1232 && reply.count <= 4000, "the operator's cap")
        #expect(try DNSMessage(wire: reply).edns?.udpPayloadSize == 4000)
        #expect(DNSResponder.udpLimit(offered: nil, cap: 4000) == 512, "no EDNS: 512")
        #expect(DNSResponder.udpLimit(offered: 100, cap: 1232) == 512)
        #expect(DNSResponder.udpLimit(offered: 1400, cap: 1232) == 1232)
        #expect(DNSResponder.udpLimit(offered: 900, cap: 1232) == 900)
    }

    @Test func droppingOnlyAdditionalDoesNotSetTC() throws {
        // 12 SRV answers fit in 512 bytes, their 12 addresses do not as well.
        let zone = Fixture.zone(Fixture.webInstances(12))
        let reply = try ask(zone, "_web._tcp.fleet.", .srv)
        #expect(reply.answers.count == 12 && reply.additional.isEmpty && !reply.isTruncated)
    }

    @Test func ednsIsEchoedWithDO() throws {
        let reply = try ask(zone, "web.fleet.", .a, edns: DNSEDNS(udpPayloadSize: 1232, dnssecOK: true))
        #expect(reply.edns?.dnssecOK == true && reply.edns?.version == 0)
        #expect(try ask(zone, "web.fleet.", .a).edns == nil, "no OPT without one in the query")
    }

    @Test func unknownEDNSVersionIsBADVERS() throws {
        let reply = try ask(zone, "web.fleet.", .a, edns: DNSEDNS(version: 1))
        #expect(reply.rcode == .badVersion && reply.answers.isEmpty && reply.edns != nil)
    }

    // MARK: Garbage

    @Test(arguments: [
        [UInt8](repeating: 0xFF, count: 40),
        [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],  // question missing
        [0x12, 0x34, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1],
        [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x0C, 0, 1, 0, 1],
        [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 3, 0x77, 0x65, 0x62, 0, 0, 1, 0, 1, 0, 0, 41],
    ])
    func garbageWithAReadableHeaderIsFORMERR(_ packet: [UInt8]) throws {
        var packet = packet
        packet[2] &= 0x7F  // a query, not a response
        let reply = try #require(DNSResponder().respond(to: packet, zone: zone))
        let message = try DNSMessage(wire: reply)
        #expect(message.rcode == .formatError && message.isResponse)
        #expect(message.id == UInt16(packet[0]) << 8 | UInt16(packet[1]))
    }

    @Test func shortPacketsAndResponsesAreDropped() {
        #expect(DNSResponder().respond(to: [0x12, 0x34, 0x01], zone: zone) == nil)
        var response = DNSMessage.query("web.fleet.", .a)
        response.isResponse = true
        #expect(DNSResponder().respond(to: response.encoded(), zone: zone) == nil)
    }

    @Test func otherOpcodesAreNOTIMP() throws {
        var notify = DNSMessage.query("fleet.", .soa)
        notify.opcode = .notify
        let reply = try DNSMessage(wire: DNSResponder().respond(to: notify.encoded(), zone: zone)!)
        #expect(reply.rcode == .notImplemented && reply.opcode == .notify)
    }

    @Test func tcpRepliesCarryTheirLength() throws {
        let reply = try #require(DNSResponder().respond(to: DNSMessage.query("web.fleet.", .a).encoded(), zone: zone,
                                                        transport: .tcp))
        #expect(Int(reply[0]) << 8 | Int(reply[1]) == reply.count - 2)
    }
}
