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
import FleetAPIClient

/// fleet's API v1 around the units: pages, states, machines, methods, errors, readiness, metrics.
@Suite struct FleetAPIParityTests {
    let store = InMemoryStore()
    var registry: Registry { Registry(store: store) }

    func app(tokenLimit: Int = 100, readiness: APIReadiness = APIReadiness(ready: true)) -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: registry, configuration: .init(tokenLimit: tokenLimit), readiness: readiness).addRoutes(to: router)
        return Application(router: router)
    }

    func seed(units: Int = 3, machines: [String] = ["m1", "m2"]) async throws {
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        for id in machines {
            try await registry.publishMachine(MachineRecord(id: MachineID(id), publicIP: "10.0.0.\(id.suffix(1))",
                                                            metadata: ["region": "a"]), ttl: 30)
        }
        for i in 0..<units {
            let name = try UnitName("u\(i).service")
            try await registry.createUnit(name, file: file, desiredState: .launched)
            for id in machines {
                try await registry.publishState(UnitStateRecord(name: name, machineID: MachineID(id), hash: file.hash,
                                                                loadState: "loaded", activeState: .active,
                                                                subState: "running", jobState: .launched), lifetime: .ttl(30))
            }
        }
    }

    struct Error: Decodable { struct Inner: Decodable { var code: Int; var message: String }; var error: Inner }

    func error(_ response: TestResponse) throws -> Error.Inner {
        #expect(response.headers[.contentType] == "application/json")
        return try JSONDecoder().decode(Error.self, from: response.body).error
    }

    @Test func listsArePagedWithFleetsTokens() async throws {
        try await seed(units: 3, machines: ["m1", "m2", "m3"])
        try await app(tokenLimit: 2).test(.router) { client in
            var token = ""
            try await client.execute(uri: "/fleet/v1/units", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitPage.self, from: response.body)
                #expect(page.units.map(\.name) == ["u0.service", "u1.service"])
                #expect(page.nextPageToken == "AgACAA==")
                token = page.nextPageToken ?? ""
            }
            try await client.execute(uri: "/fleet/v1/units?nextPageToken=\(token)", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitPage.self, from: response.body)
                #expect(page.units.map(\.name) == ["u2.service"])
                #expect(page.nextPageToken == nil)
                #expect(!String(buffer: response.body).contains("nextPageToken"))
            }
            try await client.execute(uri: "/fleet/v1/machines?nextPageToken=AgACAA==", method: .get) { response throws in
                let page = try JSONDecoder().decode(MachinePage.self, from: response.body)
                #expect(page.machines.map(\.id) == ["m3"])
            }
            try await client.execute(uri: "/fleet/v1/state", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitStatePage.self, from: response.body)
                #expect(page.states.map { "\($0.name)/\($0.machineID ?? "")" } == ["u0.service/m1", "u0.service/m2"])
                #expect(page.nextPageToken != nil)
            }
        }
    }

    @Test(arguments: [
        ("nextPageToken=EwBMLg==", "token limit must be 100"),
        ("nextPageToken=ZAAAAA==", "token page must be greater than zero"),
        ("nextPageToken=ZAACAA==&nextPageToken=ZAACAA==", "too many values for page token"),
        ("nextPageToken=%21%21", "illegal base64 data at input byte 0"),
    ])
    func badTokensAre400(query: String, message: String) async throws {
        try await app().test(.router) { client in
            for resource in ["units", "state", "machines"] {
                try await client.execute(uri: "/fleet/v1/\(resource)?\(query)", method: .get) { response throws in
                    #expect(response.status == .badRequest)
                    #expect(try error(response).message == message)
                    #expect(try error(response).code == 400)
                }
            }
        }
    }

    @Test func statesFilterExactlyAndOneStateCanBeRead() async throws {
        try await seed(units: 2)
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/state?machineID=m2&unitName=u1.service", method: .get) { response throws in
                let page = try JSONDecoder().decode(UnitStatePage.self, from: response.body)
                #expect(page.states.map(\.name) == ["u1.service"])
                #expect(page.states.first?.systemdSubState == "running")
            }
            try await client.execute(uri: "/fleet/v1/state?machineID=m", method: .get) { response throws in
                #expect(try JSONDecoder().decode(UnitStatePage.self, from: response.body).states.isEmpty)
            }
            try await client.execute(uri: "/fleet/v1/state/u1.service", method: .get) { response throws in
                #expect(response.status == .ok)
                let state = try JSONDecoder().decode(UnitStateEntity.self, from: response.body)
                #expect(state.name == "u1.service" && state.machineID == "m1")
            }
            try await client.execute(uri: "/fleet/v1/state/nothere.service", method: .get) { response throws in
                #expect(response.status == .notFound)
                #expect(try error(response).message == "unit state does not exist")
            }
        }
    }

    @Test(arguments: [
        ("/fleet/v1/units", HTTPRequest.Method.post, HTTPResponse.Status.methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/units", .delete, .methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/units/a.service", .post, .methodNotAllowed, "only GET, PUT and DELETE supported against this resource"),
        ("/fleet/v1/units/a.service", .patch, .methodNotAllowed, "only GET, PUT and DELETE supported against this resource"),
        ("/fleet/v1/state", .put, .methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/state/a.service", .delete, .methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/machines", .post, .methodNotAllowed, "only GET and PATCH supported against this resource"),
        ("/v1-alpha/machines", .delete, .methodNotAllowed, "only GET and PATCH supported against this resource"),
        ("/fleet/v1/discovery", .post, .methodNotAllowed, "only HTTP GET supported against this resource"),
        ("/metrics", .post, .methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/units", HTTPRequest.Method("QUERY")!, .methodNotAllowed, "only GET supported against this resource"),
        ("/fleet/v1/units/a/b", .get, .notFound, ""),
        ("/", .get, .methodNotAllowed, ""),
        ("/fleet/v1", .get, .methodNotAllowed, ""),
        ("/v1-alpha", .put, .methodNotAllowed, ""),
        ("/fleet/v1/nothing", .get, .notFound, ""),
        ("/nothing/at/all", .get, .notFound, ""),
    ])
    func otherMethodsAndPathsGetFleetsErrors(path: String, method: HTTPRequest.Method, status: HTTPResponse.Status,
                                             message: String) async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: path, method: method) { response throws in
                #expect(response.status == status)
                #expect(try error(response).code == Int(status.code))
                #expect(try error(response).message == message)
                #expect(response.headers[.server] == "fleetd/\(FleetVersion.current)")
                if status == .methodNotAllowed, path.contains("/machines") { #expect(response.headers[.allow] == "GET, PATCH") }
            }
        }
    }

    @Test func everyRequestIs503UntilTheMachineIsRegistered() async throws {
        let readiness = APIReadiness()
        try await app(readiness: readiness).test(.router) { client in
            for path in ["/fleet/v1/units", "/v1-alpha/machines", "/fleet/v1/units/x.service", "/", "/fleet/v1/nothing"] {
                try await client.execute(uri: path, method: .get) { response throws in
                    #expect(response.status == .serviceUnavailable)
                    #expect(try error(response).message == "fleet server unable to communicate with etcd")
                    #expect(response.headers[.server] == "fleetd/\(FleetVersion.current)")
                }
            }
            try await client.execute(uri: "/metrics", method: .get) { response throws in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("fleet_api_ready 0"))
            }
            readiness.markReady()
            try await client.execute(uri: "/fleet/v1/units", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func patchWritesDynamicMetadataTheMachineListShows() async throws {
        try await seed(units: 0, machines: ["m1"])
        let body = #"""
        [{"op":"add","path":"/m1/metadata/disk","value":{"value":"ssd"}},
         {"op":"replace","path":"/m1/metadata/rack","value":"7"},
         {"op":"remove","path":"/m1/metadata/region"},
         {"op":"add","path":"/m9/metadata/region","value":{"value":"z"}}]
        """#
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/machines", method: .patch, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: body)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/fleet/v1/machines", method: .get) { response throws in
                let page = try JSONDecoder().decode(MachinePage.self, from: response.body)
                #expect(page.machines.count == 1)
                #expect(page.machines.first?.metadata == ["disk": "ssd", "rack": "7"])
            }
        }
        #expect(try await store.value(registry.keys.machineMetadata(MachineID("m1"), "region")) == "")
        #expect(try await store.value(registry.keys.machineMetadata(MachineID("m9"), "region")) == "z")
    }

    @Test(arguments: [
        (#"[{"op":"move","path":"/m1/metadata/a","value":{"value":"b"}}]"#, "invalid op: expect add, remove, or replace"),
        (#"[{"op":"add","path":"/m1/meta/a","value":{"value":"b"}}]"#, "machine metadata path invalid"),
        (#"[{"op":"add","path":"/m1/metadata/a b","value":{"value":"b"}}]"#, "machine metadata path invalid"),
        (#"[{"op":"add","path":"/../metadata/a","value":{"value":"b"}}]"#, "machine metadata path invalid"),
        (#"[{"op":"add","path":"/m1/metadata/a"}]"#, "invalid value: add and replace require a value"),
        (#"[{"op":"replace","path":"/m1/metadata/a","value":{"value":""}}]"#, "invalid value: add and replace require a value"),
        (#"{"op":"add"}"#, "unable to decode body"),
    ])
    func patchValidatesEveryOpBeforeApplyingAny(body: String, message: String) async throws {
        let good = #"{"op":"add","path":"/m1/metadata/ok","value":{"value":"yes"}}"#
        let ops = body.hasPrefix("[") ? "[" + good + "," + body.dropFirst() : body
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/machines", method: .patch, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: ops)) { response throws in
                #expect(response.status == .badRequest)
                #expect(try error(response).message.hasPrefix(message))
            }
        }
        #expect(try await store.getIfPresent(registry.keys.machines, recursive: true) == nil, "nothing was written")
    }

    @Test func discoveryDescribesTheAPIAtTheRequestsHost() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/discovery", method: .get, headers: [:]) { response throws in
                #expect(response.status == .ok)
                let doc = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(doc?["rootUrl"] as? String == "http://localhost/")
                #expect(doc?["basePath"] as? String == "/fleet/v1/")
                #expect((doc?["resources"] as? [String: Any])?.keys.sorted() == ["Machines", "UnitState", "Units"])
            }
        }
    }

    @Test func metricsCountRequestsByResourceNotName() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/a.service", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/fleet/v1/units/b.service", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/metrics", method: .get) { response throws in
                let text = String(buffer: response.body)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(text.contains(#"fleet_api_requests_total{resource="units/:name",method="GET",code="404"} 2"#))
                #expect(text.contains("# TYPE fleet_api_requests_total counter"))
                #expect(text.contains("fleet_api_ready 1"))
            }
        }
    }
}
