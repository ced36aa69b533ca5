import FleetRegistry
import FleetStore
import FleetTestSupport
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import FleetAPI
import FleetAPIClient

/// `pageSize` (ours): a listing in pages of the client's size. Every page reads the whole
/// registry, so fleetctl, which lists the cluster every 50 ms while it waits for a start, asks
/// for one page of everything (issue 16: 200 units were three reads of the registry per poll).
@Suite struct FleetAPIPageSizeTests {
    let store = ReadCountingStore(counting: RegistryKeys().jobs)
    var registry: Registry { Registry(store: store) }

    func app() -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: registry, configuration: .init(tokenLimit: 2)).addRoutes(to: router)
        return Application(router: router)
    }

    func seed(units: Int) async throws {
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        try await registry.publishMachine(MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1"), ttl: 30)
        try await registry.publishMachine(MachineRecord(id: MachineID("m2"), publicIP: "10.0.0.2"), ttl: 30)
        for i in 0..<units {
            let name = try UnitName("u\(i).service")
            try await registry.createUnit(name, file: file, desiredState: .launched)
            try await registry.publishState(UnitStateRecord(name: name, machineID: MachineID("m1"), hash: file.hash,
                                                            loadState: "loaded", activeState: .active, subState: "running",
                                                            jobState: .launched), lifetime: .ttl(30))
        }
    }

    struct Error: Decodable { struct Inner: Decodable { var code: Int; var message: String }; var error: Inner }

    @Test func aPageSizeCutsPagesOfThatSizeWhoseTokensCarryIt() async throws {
        try await seed(units: 5)
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units?pageSize=100", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitPage.self, from: response.body)
                #expect(page.units.count == 5, "the server's size is 2; the request's is 100")
                #expect(page.nextPageToken == nil)
            }
            var token = ""
            try await client.execute(uri: "/fleet/v1/units?pageSize=3", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitPage.self, from: response.body)
                #expect(page.units.map(\.name) == ["u0.service", "u1.service", "u2.service"])
                token = try #require(page.nextPageToken)
                #expect(try PageToken.decode(token) == PageToken(limit: 3, page: 2))
            }
            try await client.execute(uri: "/fleet/v1/units?pageSize=3&nextPageToken=\(token)", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitPage.self, from: response.body)
                #expect(page.units.map(\.name) == ["u3.service", "u4.service"])
                #expect(page.nextPageToken == nil)
            }
            // Without the size, the token is another page size's, refused as fleet refuses it.
            try await client.execute(uri: "/fleet/v1/units?nextPageToken=\(token)", method: .get) { response throws in
                #expect(response.status == .badRequest)
                #expect(try JSONDecoder().decode(Error.self, from: response.body).error.message == "token limit must be 2")
            }
            try await client.execute(uri: "/fleet/v1/state?pageSize=65535", method: .get) { response throws in
                #expect(try JSONDecoder().decode(UnitStatePage.self, from: response.body).states.count == 5)
            }
            try await client.execute(uri: "/fleet/v1/machines?pageSize=1", method: .get) { response throws in
                let page = try JSONDecoder().decode(MachinePage.self, from: response.body)
                #expect(page.machines.map(\.id) == ["m1"])
                #expect(page.nextPageToken == PageToken(limit: 1, page: 2).encoded)
            }
        }
    }

    @Test(arguments: [
        ("pageSize=0", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=65536", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=-1", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=%2B5", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=1.5", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=99999999999999999999999", "pageSize must be a whole number from 1 to 65535"),
        ("pageSize=1&pageSize=2", "too many values for pageSize"),
        ("pageSize=5&nextPageToken=ZAACAA==", "token limit must be 5"),
    ])
    func badPageSizesAre400(query: String, message: String) async throws {
        try await app().test(.router) { client in
            for resource in ["units", "state", "machines"] {
                try await client.execute(uri: "/fleet/v1/\(resource)?\(query)", method: .get) { response throws in
                    #expect(response.status == .badRequest, "\(resource)?\(query)")
                    let error = try JSONDecoder().decode(Error.self, from: response.body).error
                    #expect(error.message == message)
                    #expect(error.code == 400)
                }
            }
        }
    }

    @Test func leadingZerosAreAWholeNumber() throws {
        #expect(try PageToken.pageSize(["007"]) == 7)
        #expect(try PageToken.pageSize([]) == nil)
    }

    /// The client asks for one page: 250 units are one read of the registry's units, where
    /// pages of the server's size (here 2) would have been 126.
    @Test func theClientListsEverythingInOnePage() async throws {
        try await seed(units: 250)
        try await app().test(.live) { client in
            let fleet = try FleetClient(endpoint: "http://127.0.0.1:\(try #require(client.port))")
            store.resetReads()
            let units = try await fleet.units()
            #expect(units.count == 250)
            #expect(Set(units.map(\.name)).count == 250)
            #expect(store.readCount == 1, "one listing, one read of \(RegistryKeys().jobs)")
        }
    }
}
