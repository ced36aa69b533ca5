import FleetAPI
import FleetRegistry
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import FleetAPI
@testable import FleetAPIClient

@Suite struct FleetAPITests {
    func app() -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: Registry(store: InMemoryStore())).addRoutes(to: router)
        return Application(router: router)
    }

    static let json: HTTPFields = [.contentType: "application/json"]
    static let unitBody = #"{"name":"web.service","desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/sleep 1000"}]}"#

    @Test func createGetListAndDestroyAUnit() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: Self.unitBody)) { #expect($0.status == .created) }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .get) { response in
                #expect(response.status == .ok)
                let unit = try JSONDecoder().decode(UnitEntity.self, from: response.body)
                #expect(unit.desiredState == "launched")
                #expect(unit.currentState == "inactive")
                #expect(unit.options?.first?.value == "/bin/sleep 1000")
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: #"{"name":"web.service","desiredState":"loaded"}"#)) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/fleet/v1/units", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""desiredState":"loaded""#))
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .delete) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .delete) { #expect($0.status == .notFound) }
        }
    }

    @Test(arguments: [
        (#"{"name":"web.service""#, HTTPResponse.Status.badRequest, "unable to decode body"),
        (#"{"name":"other.service","desiredState":"launched"}"#, .badRequest, "differs from unit name"),
        (#"{"name":"web.service","desiredState":"launched"}"#, .conflict, "unit does not exist and options field empty"),
        (#"{"name":"web.service","desiredState":"running","options":[{"section":"Service","name":"A","value":"b"}]}"#,
         .badRequest, "invalid desiredState"),
    ])
    func badBodiesGetFleetsErrors(body: String, status: HTTPResponse.Status, message: String) async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == status)
                #expect(String(buffer: response.body).contains(message))
                #expect(String(buffer: response.body).contains(#""error":{"#))
            }
        }
    }

    @Test func badNamesAndMediaTypesAreRefused() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put,
                                     body: ByteBuffer(string: Self.unitBody)) { #expect($0.status == .unsupportedMediaType) }
            let bad = #"{"name":"web","desiredState":"launched","options":[{"section":"Service","name":"A","value":"b"}]}"#
            try await client.execute(uri: "/fleet/v1/units/web", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: bad)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains(#"unit name must contain \".\""#))
            }
            let template = #"{"name":"web@.service","desiredState":"launched","options":[{"section":"Service","name":"A","value":"b"}]}"#
            try await client.execute(uri: "/fleet/v1/units/web@.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: template)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("cannot activate template"))
            }
            try await client.execute(uri: "/fleet/v1/units/nothere.service", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test(arguments: [
        ("unix:///var/run/fleet.sock", "http+unix://%2Fvar%2Frun%2Ffleet%2Esock"),
        ("http://10.0.0.1:4002/", "http://10.0.0.1:4002"),
    ])
    func endpointsBecomeBaseURLs(endpoint: String, base: String) throws {
        #expect(try FleetClient.base(for: endpoint) == base)
    }

    @Test(arguments: [
        ("unix://var/run/fleet.sock", "unable to connect to host \"var\" with scheme \"unix\""),
        ("/var/run/fleet.sock", "URL scheme undefined"),
        ("ftp://x", "unsupported scheme"),
    ])
    func badEndpointsSayWhy(endpoint: String, message: String) {
        let error = #expect(throws: FleetClientError.self) { try FleetClient.base(for: endpoint) }
        #expect(error?.message.contains(message) == true)
    }
}
