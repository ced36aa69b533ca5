import FleetDNS
import Foundation
import Testing

@testable import fleetd

/// fleetd's DNS is configured by the same ``DNSConfiguration`` as fleet-dns, and its zone is no
/// longer fixed to `fleet.` (issue 14).
@Suite struct FleetdSettingsDNSTests {
    func settings(_ arguments: [String], environment: [String: String] = [:]) throws -> FleetdSettings {
        let idFile = NSTemporaryDirectory() + "machine-id-\(UUID().uuidString)"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: idFile) }
        return try FleetdSettings(command: try FleetdCommand.parse(arguments + ["--machine-id-file", idFile]),
                                  environment: environment)
    }

    @Test func withoutDNSListenThereIsNoResponder() throws {
        #expect(try settings([]).dnsConfiguration == nil)
    }

    @Test func theZoneIsFleetByDefaultAndConfigurable() throws {
        let standard = try #require(try settings(["--dns-listen", "127.0.0.1:5353"]).dnsConfiguration)
        #expect(standard.zone.apex == "fleet.")
        #expect(standard.keys == .standard)
        #expect(standard.server.host == "127.0.0.1" && standard.server.port == 5353 && standard.server.udpSockets == 1)
        #expect(standard.ednsPayloadSize == 1232 && standard.forwarding == nil)

        let custom = try #require(try settings(["--dns-listen", "127.0.0.1:5353", "--dns-zone", "Cluster.Example",
                                                "--dns-udp-payload", "1400"]).dnsConfiguration)
        #expect(custom.zone.apex == "cluster.example.")
        #expect(custom.zone.nameserver == "ns.cluster.example.")
        #expect(custom.ednsPayloadSize == 1400)

        let fromEnvironment = try settings(["--dns-listen", "127.0.0.1:5353"], environment: ["FLEET_DNS_ZONE": "site."])
        #expect(fromEnvironment.dnsConfiguration?.zone.apex == "site.")
    }

    @Test(arguments: [".", "a..b", String(repeating: "x", count: 64) + ".example"])
    func aZoneThatIsNoNameIsRefused(zone: String) throws {
        #expect(throws: (any Error).self) { try settings(["--dns-listen", "127.0.0.1:5353", "--dns-zone", zone]) }
    }

    /// The zone's SOA serial is taken from the clock; a reload must compare the options, not it.
    @Test func unchangedDNSOptionsAreNoChangeOnReload() throws {
        let arguments = ["--dns-listen", "127.0.0.1:5353", "--dns-zone"]
        #expect(try settings(arguments + ["site."]).changed(comparedTo: try settings(arguments + ["site."])).isEmpty)
        #expect(try settings(arguments + ["site."]).changed(comparedTo: try settings(arguments + ["other."]))
                == ["dnsZone"])
    }
}
