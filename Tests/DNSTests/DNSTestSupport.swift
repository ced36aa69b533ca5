import FleetDiscovery
@testable import FleetDNS
import Foundation
import Testing

/// Records and queries for the DNS tests.
enum Fixture {
    static func record(_ service: String, _ instance: String, machine: String = "node1", address: String = "10.0.0.1",
                       ports: [DiscoveryRecord.Port] = [.init(port: 8080, proto: "tcp", name: "http")],
                       metadata: [String: String] = [:], healthy: Bool = true, ttl: UInt32 = 5) -> DiscoveryRecord {
        DiscoveryRecord(service: service, instance: instance, unit: "\(service)@\(instance).service",
                        machineID: "id-\(machine)", machineName: machine, address: address, ports: ports,
                        metadata: metadata, healthy: healthy, answerTTL: ttl,
                        since: Date(timeIntervalSince1970: 1_700_000_000))
    }

    static func key(_ record: DiscoveryRecord) -> String { "/discovery/\(record.service)/\(record.instance)" }

    static func zone(_ records: [DiscoveryRecord], settings: ZoneSettings = ZoneSettings(serial: 42)) -> ZoneView {
        var builder = ZoneBuilder(settings: settings)
        for record in records { builder.upsert(record, key: key(record)) }
        return builder.view()
    }

    /// `count` healthy web instances on distinct machines and addresses 10.0.x.y.
    static func webInstances(_ count: Int) -> [DiscoveryRecord] {
        (1...count).map { i in
            record("web", "\(i)", machine: "node\(i)", address: "10.0.\(i / 256).\(i % 256)")
        }
    }
}

/// Asks `zone` through the responder and parses the answer.
func ask(_ zone: ZoneView, _ name: DNSName, _ type: DNSRecordType, transport: DNSResponder.Transport = .udp,
         edns: DNSEDNS? = nil, variant: Int = 0, responder: DNSResponder = DNSResponder(),
         id: UInt16 = 0x4242) throws -> DNSMessage {
    let query = DNSMessage.query(name, type, id: id, edns: edns).encoded()
    let reply = try #require(responder.respond(to: query, zone: zone, transport: transport, variant: variant))
    return try parseReply(reply, transport: transport)
}

func parseReply(_ reply: [UInt8], transport: DNSResponder.Transport) throws -> DNSMessage {
    if transport == .tcp {
        let length = Int(reply[0]) << 8 | Int(reply[1])
        #expect(length == reply.count - 2, "TCP length prefix matches the message")
        return try DNSMessage(wire: Array(reply.dropFirst(2)))
    }
    return try DNSMessage(wire: reply)
}

extension DNSMessage {
    var addresses: [String] {
        answers.compactMap {
            switch $0.data {
            case let .a(address): address.description
            case let .aaaa(address): address.description
            default: nil
            }
        }
    }
}
