import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import FleetTestSupport
import Testing
@testable import FleetAPI

/// Listing units reads each distinct unit contents once, not once per unit per listing
/// (issue 16 item 2): `fleetctl start` of 200 units polls the listing, and on etcd every read is
/// a round trip, 200 of them one after another each round before.
@Suite struct FleetAPIListingReadsTests {
    @Test func listingManyInstancesReadsTheirContentsOnce() async throws {
        let store = ReadCountingStore(counting: RegistryKeys().unitFiles)
        let registry = Registry(store: store)
        let template = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep infinity\n")
        let other = try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n")
        for i in 0..<50 {
            try await registry.createUnit(try UnitName("app@\(i).service"), file: template, desiredState: .launched)
        }
        try await registry.createUnit(try UnitName("other.service"), file: other, desiredState: .loaded)
        store.resetReads()

        let router = Router()
        APIRoutes(registry: registry, configuration: .init(tokenLimit: 1000)).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            for round in 0..<3 {
                try await client.execute(uri: "/fleet/v1/units", method: .get) { response in
                    #expect(response.status == .ok)
                    let page = try JSONDecoder().decode(Page.self, from: Data(buffer: response.body))
                    #expect(page.units.count == 51, "round \(round)")
                    #expect(page.units.first { $0.name == "app@7.service" }?.options.first?.value == "/bin/sleep infinity")
                }
            }
            try await client.execute(uri: "/fleet/v1/units/other.service", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(store.readCount == 2, "each distinct contents once, however many units and listings")
    }

    struct Page: Decodable {
        struct Unit: Decodable {
            struct Option: Decodable { var value: String }
            var name: String
            var options: [Option]
        }
        var units: [Unit]
    }
}
