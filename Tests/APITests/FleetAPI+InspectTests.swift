import FleetHTTPServer
import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
@testable import FleetAPI
import FleetAPIClient

/// A stand-in for one machine's systemd and journal: fixed answers, and what it was asked.
final class FakeInspector: UnitInspector {
    let machine: String
    /// Units this machine has from outside fleet's directory (`ssh.service`).
    let hostUnits: Set<String>
    let asked = Mutex<[String]>([])

    init(machine: String, hostUnits: Set<String> = []) {
        self.machine = machine
        self.hostUnits = hostUnits
    }

    func isHostUnit(_ unit: String) async throws -> Bool { hostUnits.contains(unit) }

    func status(of unit: String) async throws -> (exitStatus: Int32, text: String) {
        asked.withLock { $0.append("status \(unit)") }
        return (3, "○ \(unit) on \(machine)")
    }

    func checkJournal() throws {}

    func journal(_ request: JournalRequest) -> AsyncThrowingStream<String, any Error> {
        asked.withLock { $0.append("journal \(request.unit) \(request.lines) \(request.follow) \(request.output)") }
        let machine = self.machine
        return AsyncThrowingStream { continuation in
            for index in 0..<request.lines { continuation.yield("line \(index) of \(request.unit) on \(machine)") }
            continuation.finish()
        }
    }
}

/// `/fleet/v1/units/<name>/status` and `/journal`: answered locally, passed on to the unit's
/// machine, and fleet's messages for units that are missing, not loaded or global.
@Suite struct FleetAPIInspectTests {
    let store = InMemoryStore()
    var registry: Registry { Registry(store: store) }
    let local = FakeInspector(machine: "m1")

    func app(_ inspector: FakeInspector? = nil, machine: String = "m1") -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: registry, configuration: .init(localMachine: MachineID(machine)),
                 inspector: inspector ?? local).addRoutes(to: router)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    func seed(peerURL: String? = nil) async throws {
        try await registry.publishMachine(MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1"), ttl: 30)
        try await registry.publishMachine(MachineRecord(id: MachineID("m2"), publicIP: "10.0.0.2", apiURL: peerURL), ttl: 30)
        try await place("here.service", on: "m1")
        try await place("there.service", on: "m2")
        try await registry.createUnit(try UnitName("idle.service"),
                                      file: try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n"), desiredState: .inactive)
        try await registry.createUnit(try UnitName("everywhere.service"),
                                      file: try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n"),
                                      desiredState: .launched)
    }

    func place(_ unit: String, on machine: String) async throws {
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let name = try UnitName(unit)
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setTarget(name, MachineID(machine))
        try await registry.publishState(UnitStateRecord(name: name, machineID: MachineID(machine), hash: file.hash,
                                                        loadState: "loaded", activeState: .active, subState: "running",
                                                        jobState: .launched), lifetime: .ttl(30))
    }

    func message(_ response: TestResponse) -> String {
        (try? JSONDecoder().decode(ErrorBody.self, from: response.body))?.error.message ?? String(buffer: response.body)
    }

    @Test func aLocalUnitIsAnsweredByThisMachinesInspector() async throws {
        try await seed()
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/here.service/status", method: .get) { response in
                #expect(response.status == .ok)
                let status = try JSONDecoder().decode(UnitStatusEntity.self, from: response.body)
                #expect(status == UnitStatusEntity(name: "here.service", machineID: "m1", exitStatus: 3,
                                                   text: "○ here.service on m1"))
            }
            try await client.execute(uri: "/fleet/v1/units/here.service/journal?lines=2&output=cat", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
                #expect(String(buffer: response.body) == "line 0 of here.service on m1\nline 1 of here.service on m1\n")
            }
        }
        #expect(local.asked.withLock { $0 } == ["status here.service", "journal here.service 2 false cat"])
    }

    @Test func aRemoteUnitIsPassedOnToItsMachinesFleetd() async throws {
        let remote = FakeInspector(machine: "m2")
        try await app(remote, machine: "m2").test(.live) { peer in
            let port = try #require(peer.port)
            try await seed(peerURL: "http://127.0.0.1:\(port)")
            try await app().test(.router) { client in
                try await client.execute(uri: "/fleet/v1/units/there.service/status", method: .get) { response in
                    #expect(response.status == .ok)
                    let status = try JSONDecoder().decode(UnitStatusEntity.self, from: response.body)
                    #expect(status.text == "○ there.service on m2")
                    #expect(status.machineID == "m2")
                }
                try await client.execute(uri: "/fleet/v1/units/there.service/journal?lines=1", method: .get) { response in
                    #expect(String(buffer: response.body) == "line 0 of there.service on m2\n")
                }
                // machineID picks a machine explicitly, here this one.
                try await client.execute(uri: "/fleet/v1/units/there.service/status?machineID=m1", method: .get) { response throws in
                    #expect(try JSONDecoder().decode(UnitStatusEntity.self, from: response.body).text == "○ there.service on m1")
                }
            }
        }
        #expect(remote.asked.withLock { $0 } == ["status there.service", "journal there.service 1 false short"])
    }

    @Test func fleetsMessagesForUnitsThatCannotBeShown() async throws {
        try await seed()
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/nope.service/status", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(message(response) == "unit does not exist")
            }
            try await client.execute(uri: "/fleet/v1/units/idle.service/status", method: .get) { response in
                #expect(response.status == .conflict)
                #expect(message(response) == "Unit idle.service does not appear to be loaded.")
            }
            try await client.execute(uri: "/fleet/v1/units/everywhere.service/journal", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(message(response) == "Unable to retrieve journal of global unit everywhere.service.")
            }
            try await client.execute(uri: "/fleet/v1/units/here.service/status?machineID=m9", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(message(response) == "machine m9 is not in the cluster")
            }
            // m2 advertises no API: a clear 502 naming the fix.
            try await client.execute(uri: "/fleet/v1/units/there.service/status", method: .get) { response in
                #expect(response.status == .badGateway)
                #expect(message(response).contains("start its fleetd with --api-listen"))
            }
        }
    }

    @Test func theMachinesOwnUnitsAreNeverShownEvenWithMachineID() async throws {
        try await seed()
        let host = FakeInspector(machine: "m1", hostUnits: ["ssh.service", "sshd.service"])
        // A cluster unit named like the host's own: the agent refused it, the API shows nothing of it.
        try await place("ssh.service", on: "m1")
        try await app(host).test(.router) { client in
            for path in ["sshd.service/status?machineID=m1", "sshd.service/journal?machineID=m1&lines=5"] {
                try await client.execute(uri: "/fleet/v1/units/\(path)", method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(message(response).contains("sshd.service is not a fleet unit"), "\(path)")
                }
            }
            for path in ["ssh.service/status", "ssh.service/journal", "ssh.service/journal?machineID=m1"] {
                try await client.execute(uri: "/fleet/v1/units/\(path)", method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(message(response).contains("is the machine's own, not fleet's"), "\(path)")
                }
            }
            // Passed on by another fleetd (or claiming to be): the same checks.
            try await client.execute(uri: "/fleet/v1/units/sshd.service/journal?machineID=m1", method: .get,
                                     headers: [APIRoutes.forwardedHeader: "1"]) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/fleet/v1/units/here.service/status?machineID=m1", method: .get) { response in
                #expect(response.status == .ok, "fleet's own units still are")
            }
        }
        #expect(host.asked.withLock { $0 } == ["status here.service"])
    }

    @Test(arguments: [
        ("lines=-1", "lines must be a number of 0 or more"), ("lines=ten", "lines must be a number"),
        ("follow=maybe", "follow must be true or false"), ("output=verbose", "unknown output \"verbose\""),
        ("follow=true&heartbeat=-1", "heartbeat must be a number of seconds"),
    ])
    func badJournalParametersAre400(query: String, expected: String) async throws {
        try await seed()
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/here.service/journal?\(query)", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(message(response).contains(expected))
            }
        }
        #expect(local.asked.withLock { $0 }.isEmpty)
    }

    @Test func otherMethodsAre405() async throws {
        try await seed()
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/here.service/status", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
            }
        }
    }
}

/// The relay behind journal follows: heartbeats while the source is quiet, and an end when it ends.
@Suite struct UntilDisconnectedTests {
    @Test func aQuietSourceGetsHeartbeatsAndItsEndEndsTheRelay() async throws {
        let (source, feed) = AsyncThrowingStream<String, any Error>.makeStream()
        let relay = untilDisconnected(source, channel: nil, heartbeat: .milliseconds(20), marker: "HB")
        var iterator = relay.makeAsyncIterator()
        #expect(try await iterator.next() == "HB")  // nothing from the source yet
        feed.yield("line")
        var next = try await iterator.next()
        while next == "HB" { next = try await iterator.next() }
        #expect(next == "line")
        feed.finish()
        while let element = try await iterator.next() { #expect(element == "HB") }
    }
}
