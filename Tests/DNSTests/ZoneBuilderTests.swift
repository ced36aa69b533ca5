import FleetTestSupport
import FleetDiscovery
@testable import FleetDNS
import Testing

@Suite struct ZoneBuilderTests {
    /// Every (name, type) answer of `zone` as a set of records, so shuffled orders compare equal.
    func snapshot(_ zone: ZoneView) throws -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for name in zone.names {
            for type in [DNSRecordType.a, .aaaa, .txt, .srv, .ptr, .soa, .ns] {
                let reply = try ask(zone, name, type, transport: .tcp)
                let records = reply.answers + reply.additional + reply.authority
                result["\(name) \(type) \(reply.rcode)"] = Set(records.map { "\($0.name) \($0.ttl) \($0.data)" })
            }
        }
        return result
    }

    @Test func incrementalChangesMatchARebuild() throws {
        var generator = SeededGenerator(seed: 7)
        var builder = ZoneBuilder(settings: ZoneSettings(serial: 1))
        var live: [String: DiscoveryRecord] = [:]
        let services = ["web", "db", "cache"]
        for step in 0..<300 {
            let service = services[Int(generator.next() % 3)]
            let instance = String(generator.next() % 5)
            let key = "/discovery/\(service)/\(instance)"
            switch generator.next() % 4 {
            case 0:
                builder.remove(key: key)
                live[key] = nil
            default:
                let machine = "node\(generator.next() % 4)"
                let address = generator.next() % 3 == 0 ? "fd00::\(generator.next() % 4)" : "10.0.0.\(generator.next() % 6)"
                let record = Fixture.record(service, instance, machine: machine, address: address,
                                            ports: [.init(port: UInt16(8000 + step % 3), proto: step % 2 == 0 ? "tcp" : "udp",
                                                          name: "p\(step % 2)")],
                                            metadata: ["step": "\(generator.next() % 2)"],
                                            healthy: generator.next() % 5 != 0, ttl: UInt32(1 + generator.next() % 3))
                builder.upsert(record, key: key)
                live[key] = record
            }
            if step % 50 == 49 {
                var fresh = ZoneBuilder(settings: ZoneSettings(serial: 1))
                for (key, record) in live { fresh.upsert(record, key: key) }
                let incremental = builder.view()
                let rebuilt = fresh.view()
                #expect(incremental.names == rebuilt.names, "step \(step)")
                #expect(try snapshot(incremental) == snapshot(rebuilt), "step \(step)")
            }
        }
    }

    @Test func untouchedNamesKeepTheirPreparedAnswers() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        let before = try #require(builder.view().table.lookup("web.fleet."))
        builder.upsert(Fixture.record("db", "1", machine: "node2", address: "10.0.0.2"), key: "/discovery/db/1")
        let after = try #require(builder.view().table.lookup("web.fleet."))
        #expect(before === after)
    }

    @Test func aNewInstanceLeavesItsSiblingsNamesAlone() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        builder.upsert(Fixture.record("web", "2", machine: "node2", address: "10.0.0.2"), key: "/discovery/web/2")
        let first = builder.view()
        builder.upsert(Fixture.record("web", "3", machine: "node3", address: "10.0.0.3"), key: "/discovery/web/3")
        let second = builder.view()
        for name: DNSName in ["1.web.fleet.", "2.web.fleet.", "node1.machine.fleet."] {
            let before = try #require(first.table.lookup(name)), after = try #require(second.table.lookup(name))
            #expect(before === after, "\(name)")
        }
        let before = try #require(first.table.lookup("web.fleet.")), after = try #require(second.table.lookup("web.fleet."))
        #expect(before !== after)
        let txt = try ask(second, "web.fleet.", .txt).answers.map { "\($0.data)" }
        #expect(txt.count == 3 && txt == txt.sorted(), "one TXT per instance, in instance order: \(txt)")
    }

    @Test func removingTheLastInstanceRemovesItsNames() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        builder.remove(key: "/discovery/web/1")
        let zone = builder.view()
        #expect(zone.names == ["fleet."], "only the apex is left, no empty non-terminals")
        for name: DNSName in ["web.fleet.", "machine.fleet.", "_tcp.fleet.", "node1.machine.fleet."] {
            #expect(try ask(zone, name, .a).rcode == .nameError, "\(name)")
        }
    }

    @Test func becomingUnhealthyLeavesAnswersButNotTheMachine() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        builder.upsert(Fixture.record("web", "1", healthy: false), key: "/discovery/web/1")
        let zone = builder.view()
        #expect(try ask(zone, "web.fleet.", .a).rcode == .nameError)
        #expect(try ask(zone, "_web._tcp.fleet.", .srv).rcode == .nameError)
        #expect(try ask(zone, "node1.machine.fleet.", .a).addresses == ["10.0.0.1"])
    }

    @Test func recordsDNSCannotServeAreRefusedAndReplaceOlderOnes() throws {
        var builder = ZoneBuilder()
        let accepted = builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        #expect(accepted)
        let badAddress = builder.upsert(Fixture.record("web", "1", address: "not-an-ip"), key: "/discovery/web/1")
        let dottedService = builder.upsert(Fixture.record("we.b", "1"), key: "/discovery/x/1")
        let underscoreService = builder.upsert(Fixture.record("_web", "1"), key: "/discovery/y/1")
        let spacedMachine = builder.upsert(Fixture.record("web", "1", machine: "node 1"), key: "/discovery/z/1")
        #expect(!badAddress && !dottedService && !underscoreService && !spacedMachine)
        #expect(builder.recordCount == 0)
        #expect(try ask(builder.view(), "web.fleet.", .a).rcode == .nameError)
    }

    @Test func aMachineAddressChangeReachesOtherServicesAdditionalSections() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1", machine: "node1", address: "10.0.0.1"), key: "/discovery/web/1")
        // Another service on the same machine brings a second address for node1.
        builder.upsert(Fixture.record("db", "1", machine: "node1", address: "10.0.0.9"), key: "/discovery/db/1")
        let srv = try ask(builder.view(), "_web._tcp.fleet.", .srv)
        #expect(Set(srv.additional.map { "\($0.data)" }) == ["a(10.0.0.1)", "a(10.0.0.9)"])
        builder.remove(key: "/discovery/db/1")
        let after = try ask(builder.view(), "_web._tcp.fleet.", .srv)
        #expect(after.additional.map { "\($0.data)" } == ["a(10.0.0.1)"])
    }

    @Test func removingADirectoryRemovesEverythingBelowIt() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        builder.upsert(Fixture.record("web", "2", address: "10.0.0.2"), key: "/discovery/web/2")
        builder.upsert(Fixture.record("webby", "1"), key: "/discovery/webby/1")
        builder.removeAll(under: "/discovery/web")
        #expect(builder.recordCount == 1, "/discovery/webby is not below /discovery/web")
        #expect(try ask(builder.view(), "web.fleet.", .a).rcode == .nameError)
        builder.removeAll(under: "/discovery")
        #expect(builder.recordCount == 0)
    }

    @Test func duplicateAddressesAreOneRecord() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1", ports: [.init(port: 80)]), key: "/discovery/web/1")
        builder.upsert(Fixture.record("web", "2", ports: [.init(port: 81)]), key: "/discovery/web/2")
        let zone = builder.view()
        #expect(try ask(zone, "web.fleet.", .a).addresses == ["10.0.0.1"])
        #expect(try ask(zone, "web.fleet.", .srv).answers.count == 2)
    }

    @Test func metadataIsEscapedAndCut() {
        #expect(ZoneEntry.txtString(key: "a=b`c", value: "v") == Array("a`=b``c=v".utf8))
        #expect(ZoneEntry.txtString(key: "k", value: String(repeating: "x", count: 400)).count == 255)
    }

    @Test func labelsAreLowerCasedAndChecked() {
        #expect(ZoneEntry.label("Web-1_a") == "web-1_a")
        #expect(ZoneEntry.label("") == nil)
        #expect(ZoneEntry.label("a.b") == nil)
        #expect(ZoneEntry.label(String(repeating: "x", count: 64)) == nil)
    }
}

