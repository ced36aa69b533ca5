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

/// `PUT /fleet/v1/units/<name>` as fleet's clients use it (issue 12): replacing contents in
/// place, a body without a name, and the media type of bodiless answers.
@Suite struct FleetAPIUnitsTests {
    let store = InMemoryStore()
    var registry: Registry { Registry(store: store) }

    func app() -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: registry).addRoutes(to: router)
        return Application(router: router)
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    static func body(name: String? = "web.service", exec: String, desiredState: String? = nil) -> ByteBuffer {
        var fields: [String] = []
        if let name { fields.append(#""name":"\#(name)""#) }
        if let desiredState { fields.append(#""desiredState":"\#(desiredState)""#) }
        fields.append(#""options":[{"section":"Service","name":"ExecStart","value":"\#(exec)"}]"#)
        return ByteBuffer(string: "{" + fields.joined(separator: ",") + "}")
    }

    /// Before: new contents without a desired state reset a launched unit to `inactive` and
    /// dropped its placement (destroy and create), so `--replace` stopped it silently.
    @Test func newContentsKeepTheDesiredStateAndTheMachine() async throws {
        let name = try UnitName("web.service")
        let machine = MachineID("m1")
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(exec: "/bin/sleep 1", desiredState: "launched")) {
                #expect($0.status == .created)
            }
            _ = try await registry.setTarget(name, machine)
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(exec: "/bin/sleep 2")) { #expect($0.status == .created) }
        }
        let unit = try #require(try await registry.unit(name))
        #expect(unit.desiredState == .launched)
        #expect(unit.target == machine)
        let file = try #require(try await registry.unitFile(unit.hash))
        #expect(file.options.first?.value == "/bin/sleep 2")
    }

    @Test func aDesiredStateGivenWithNewContentsIsApplied() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(exec: "/bin/sleep 1", desiredState: "loaded")) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(exec: "/bin/sleep 2", desiredState: "launched")) {
                #expect($0.status == .created)
            }
        }
        #expect(try await registry.unit(UnitName("web.service"))?.desiredState == .launched)
    }

    /// Before: 400 `unable to decode body: missing field "name"`; fleet takes the URL's name.
    @Test func aBodyWithoutANameTakesTheNameFromTheURL() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(name: nil, exec: "/bin/sleep 1", desiredState: "loaded")) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: #"{"desiredState":"launched"}"#)) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(name: "other.service", exec: "/bin/sleep 1")) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("differs from unit name in request body"))
            }
        }
        #expect(try await registry.unit(UnitName("web.service"))?.desiredState == .launched)
    }

    /// Before: 204 (and 201) answers carried no Content-Type at all.
    @Test func bodilessAnswersSayJSON() async throws {
        try await registry.publishMachine(MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1", metadata: [:]), ttl: 30)
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: Self.body(exec: "/bin/sleep 1")) { response in
                #expect(response.status == .created)
                #expect(response.headers[.contentType] == "application/json")
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put, headers: Self.json,
                                     body: ByteBuffer(string: #"{"desiredState":"loaded"}"#)) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.contentType] == "application/json")
            }
            let patch = #"[{"op":"add","path":"/m1/metadata/disk","value":{"value":"ssd"}}]"#
            try await client.execute(uri: "/fleet/v1/machines", method: .patch, headers: Self.json,
                                     body: ByteBuffer(string: patch)) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.contentType] == "application/json")
            }
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .delete) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.contentType] == "application/json")
            }
        }
    }
}
