import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import FleetAPI
@testable import FleetAPIClient

/// `POST /fleet/v1/batch/units` (ours): many units' writes in one request, each judged and
/// answered as its own `PUT` would be; and fleetctl's client, which falls back to one `PUT`
/// per unit against a fleetd without the route.
@Suite struct FleetAPIUnitBatchTests {
    let store = InMemoryStore()
    var registry: Registry { Registry(store: store) }

    func app(batches: Bool = true) -> some ApplicationProtocol {
        let router = Router()
        if batches {
            APIRoutes(registry: registry).addRoutes(to: router)
        } else {
            // A fleetd that predates batches (or fleet itself): one PUT per unit.
            let routes = APIRoutes(registry: registry)
            router.put("/fleet/v1/units/:name") { request, context in
                try await routes.putUnit(context.parameters.get("name") ?? "", request)
            }
        }
        return Application(router: router)
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    static func unit(_ name: String, exec: String? = "/bin/sleep 1", desiredState: String? = "launched") -> String {
        var fields = [#""name":"\#(name)""#]
        if let desiredState { fields.append(#""desiredState":"\#(desiredState)""#) }
        if let exec { fields.append(#""options":[{"section":"Service","name":"ExecStart","value":"\#(exec)"}]"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func batch(_ units: [String]) -> ByteBuffer {
        ByteBuffer(string: #"{"units":["# + units.joined(separator: ",") + "]}")
    }

    @Test func eachUnitIsAnsweredAsItsOwnPutWouldBe() async throws {
        try await registry.createUnit(UnitName("old.service"), file: UnitFile(parsing: "[Service]\nExecStart=/bin/true\n"),
                                      desiredState: .loaded)
        let units = [
            Self.unit("a.service"),
            Self.unit("old.service", exec: nil, desiredState: "launched"),  // desired state only: 204
            Self.unit("bad name.service"),                                  // 400
            Self.unit("none.service", exec: nil, desiredState: "launched"), // no contents: 409
            Self.unit("web@.service", desiredState: "launched"),            // a template: 400
            Self.unit("b.service", desiredState: nil),                      // created inactive
        ]
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/batch/units", method: .post, headers: Self.json, body: Self.batch(units)) { response in
                #expect(response.status == .ok)
                let outcomes = try JSONDecoder().decode(UnitBatchOutcomes.self, from: response.body).results
                #expect(outcomes.map(\.name) == ["a.service", "old.service", "bad name.service", "none.service", "web@.service", "b.service"])
                #expect(outcomes.map(\.code) == [201, 204, 400, 409, 400, 201])
                #expect(outcomes[2].message?.isEmpty == false)
                #expect(outcomes[3].message == "unit does not exist and options field empty")
                #expect(outcomes[4].message == "cannot activate template \"web@.service\"")
                #expect(outcomes[0].message == nil)
            }
        }
        #expect(try await registry.unit(UnitName("a.service"))?.desiredState == .launched)
        #expect(try await registry.unit(UnitName("old.service"))?.desiredState == .launched)
        #expect(try await registry.unit(UnitName("b.service"))?.desiredState == .inactive)
        #expect(try await registry.units().map(\.name.rawValue) == ["a.service", "b.service", "old.service"])
    }

    /// Refused as a whole, nothing written: a unit without a name, one named twice, too many
    /// units, a body that does not decode, a state that is none of fleet's (the schema's enum:
    /// a malformed request, not one unit's refusal).
    @Test(arguments: [
        ([FleetAPIUnitBatchTests.unit("a.service"), #"{"desiredState":"launched"}"#], HTTPResponse.Status.badRequest, "unit 2 of the batch has no name"),
        ([FleetAPIUnitBatchTests.unit("a.service"), FleetAPIUnitBatchTests.unit("a.service", desiredState: "loaded")], .badRequest, "unit a.service appears more than once in the batch"),
        ((0...APIRoutes.unitBatchLimit).map { FleetAPIUnitBatchTests.unit("u\($0).service") }, .badRequest, "a batch holds at most 1000 units, this one 1001"),
        ([#"{"name":"a.service","options":7}"#], .badRequest, "unable to decode body: wrong type at units."),
        ([FleetAPIUnitBatchTests.unit("a.service"), FleetAPIUnitBatchTests.unit("b.service", desiredState: "running")], .badRequest,
         #"unit 2 of the batch: invalid desiredState "running": expected inactive, loaded or launched"#),
        ([#"{"name":"a.service","currentState":"e"}"#], .badRequest, #"unit 1 of the batch: invalid currentState "e""#),
    ])
    func aBadBatchWritesNothing(units: [String], status: HTTPResponse.Status, message: String) async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/batch/units", method: .post, headers: Self.json, body: Self.batch(units)) { response in
                #expect(response.status == status)
                let body = try JSONDecoder().decode(ErrorBody.self, from: response.body)
                #expect(body.error.message.hasPrefix(message), "\(body.error.message)")
            }
        }
        #expect(try await registry.units().isEmpty)
    }

    @Test func bodyLimitMediaTypeAndMethodsAreFleets() async throws {
        try await app().test(.router) { client in
            let huge = Self.unit("a.service", exec: String(repeating: "x", count: APIRoutes.unitBatchBodyLimit))
            try await client.execute(uri: "/fleet/v1/batch/units", method: .post, headers: Self.json, body: Self.batch([huge])) {
                #expect($0.status == .contentTooLarge)
            }
            try await client.execute(uri: "/fleet/v1/batch/units", method: .post, headers: [.contentType: "text/plain"],
                                     body: Self.batch([Self.unit("a.service")])) {
                #expect($0.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/fleet/v1/batch/units", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
                #expect(String(buffer: response.body) == #"{"error":{"code":405,"message":"only POST supported against this resource"}}"#)
            }
            // fleet's own resource keeps fleet's answer.
            try await client.execute(uri: "/fleet/v1/units", method: .post, headers: Self.json, body: Self.batch([])) {
                #expect($0.status == .methodNotAllowed)
            }
        }
        #expect(try await registry.units().isEmpty)
    }

    @Test func theClientCutsBatchesByCountAndSize() throws {
        let units = (1...7).map { UnitEntity(name: "u\($0).service", options: [UnitOption(section: "Service", name: "ExecStart", value: "/bin/true")],
                                             desiredState: .launched) }
        let byCount = try FleetClient.batches(of: units, maxUnits: 3)
        #expect(byCount.map(\.names.count) == [3, 3, 1])
        let one = try JSONEncoder().encode(units[0]).count
        let bySize = try FleetClient.batches(of: units, maxBytes: 2 * one + 2)
        #expect(bySize.map(\.names.count) == [2, 2, 2, 1])
        // Each body is a batch the server reads back as the same units, in order.
        for batch in byCount + bySize {
            let decoded = try JSONDecoder().decode(UnitBatch.self, from: batch.body)
            #expect(decoded.units.map(\.name) == batch.names)
        }
        #expect(try FleetClient.batches(of: []).isEmpty)
    }

    @Test func theClientWritesInBatchesOrFallsBackToPuts() async throws {
        let units = [UnitEntity(name: "a.service", options: [UnitOption(section: "Service", name: "ExecStart", value: "/bin/true")],
                                desiredState: .launched),
                     UnitEntity(name: "b.service", desiredState: .launched)]
        for batches in [true, false] {
            try await app(batches: batches).test(.live) { client in
                let fleet = try FleetClient(endpoint: "http://127.0.0.1:\(try #require(client.port))")
                let refusals = try await fleet.writeUnits(units)
                if batches {
                    let refusals = try #require(refusals)
                    #expect(refusals[0] == nil)
                    #expect(refusals[1]?.status == 409)
                    #expect(refusals[1]?.description == "googleapi: Error 409: unit does not exist and options field empty")
                } else {
                    #expect(refusals == nil)
                }
            }
        }
        #expect(try await registry.units().map(\.name.rawValue) == ["a.service"])
    }
}
