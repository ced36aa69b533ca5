import FleetDiscovery
import FleetMDNS
import Foundation
import Testing

@Suite struct MDNSServiceTests {
    let machine = "9e72f8a1c0de4b5a8f00112233445566"

    func record(service: String = "web", instance: String = "1", machineID: String? = nil,
                ports: [DiscoveryRecord.Port] = [.init(port: 8080)], tags: [String] = ["frontend"],
                metadata: [String: String] = ["version": "1"], healthy: Bool = true) -> DiscoveryRecord {
        DiscoveryRecord(service: service, instance: instance, unit: "\(service)@\(instance).service",
                        machineID: machineID ?? machine, machineName: String(machine.prefix(8)),
                        address: "10.77.0.11", ports: ports, tags: tags, metadata: metadata, healthy: healthy)
    }

    @Test func mapsARecordToAServiceInstance() throws {
        let service = try #require(MDNSService(record: record()))
        #expect(service.name == "web-1")
        #expect(service.type == "_web._tcp")
        #expect(service.port == 8080)
        #expect(service.subtypes == ["_frontend._sub._web._tcp"])
        #expect(service.txt == ["unit=web@1.service", "machine=\(machine)", "tags=frontend", "version=1"])
    }

    @Test func udpComesFromTheFirstPortAndTheTypeCanBeOverridden() throws {
        let dns = try #require(MDNSService(record: record(service: "dns", ports: [.init(port: 53, proto: "udp")])))
        #expect(dns.type == "_dns._udp")
        let http = try #require(MDNSService(record: record(metadata: ["mdns-type": "_http._tcp", "path": "/"])))
        #expect(http.type == "_http._tcp")
        #expect(http.subtypes == ["_frontend._sub._http._tcp"])
        #expect(!http.txt.contains { $0.hasPrefix("mdns-") })
        #expect(http.txt.contains("path=/"))
    }

    @Test func fixedKeysWinAndBadKeysAreDropped() throws {
        let service = try #require(MDNSService(record: record(
            tags: ["a", "b"], metadata: ["machine": "spoof", "": "x", "a=b": "c", "long": String(repeating: "x", count: 300)])))
        #expect(service.txt == ["unit=web@1.service", "machine=\(machine)", "tags=a,b"])
    }

    @Test func noPortMeansNothingToAnnounce() {
        #expect(MDNSService(record: record(ports: [])) == nil)
    }

    @Test func theBridgeAnnouncesOnlyItsOwnHealthyRecords() {
        #expect(MDNSBridge.announcement(for: record(), machineID: machine) != nil)
        #expect(MDNSBridge.announcement(for: record(healthy: false), machineID: machine) == nil)
        #expect(MDNSBridge.announcement(for: record(machineID: "other"), machineID: machine) == nil)
    }

    @Test func onlyTXTChangesAreUpdatedInPlace() throws {
        let v1 = try #require(MDNSService(record: record()))
        let v2 = try #require(MDNSService(record: record(metadata: ["version": "2"])))
        let moved = try #require(MDNSService(record: record(ports: [.init(port: 9090)])))
        #expect(v2.differsOnlyInTXT(from: v1))
        #expect(!moved.differsOnlyInTXT(from: v1))
        #expect(!v1.differsOnlyInTXT(from: v1))
    }

    @Test func longNamesAreCutToOneLabel() throws {
        let service = try #require(MDNSService(record: record(instance: String(repeating: "é", count: 40))))
        #expect(service.name.utf8.count <= 63)
        #expect(service.name.hasPrefix("web-é"))
    }
}
