import FleetAPI
import FleetRegistry
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Bodies found by running fleet (issue 11): each is refused with fleet's error shape, and
/// nothing of it reaches the registry.
@Suite struct FleetAPIHostileInputTests {
    func app(_ store: InMemoryStore = InMemoryStore()) -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: Registry(store: store)).addRoutes(to: router)
        return Application(router: router)
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    static func unit(_ options: [(String, String, String)]) throws -> ByteBuffer {
        let entity: [String: Any] = [
            "name": "x.service", "desiredState": "loaded",
            "options": options.map { ["section": $0.0, "name": $0.1, "value": $0.2] },
        ]
        return ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: entity))
    }

    @Test func anOptionValueSmugglingLinesIntoTheUnitFileIsRefused() async throws {
        let store = InMemoryStore()
        try await app(store).test(.router) { client in
            let body = try Self.unit([("Service", "ExecStart", "/bin/true\n[Service]\nExecStartPre=/bin/evil")])
            try await client.execute(uri: "/fleet/v1/units/x.service", method: .put, headers: Self.json, body: body) { response in
                #expect(response.status == .badRequest)
                let text = String(buffer: response.body)
                #expect(text.contains(#""error":{"code":400"#))
                #expect(text.contains("would read back differently"), "\(text)")
            }
        }
        #expect(try await store.get("/", recursive: true).leaves.isEmpty, "nothing was written")
    }

    @Test func aPlainUnitStillPasses() async throws {
        try await app().test(.router) { client in
            let body = try Self.unit([("Service", "ExecStart", "/bin/true"), ("X-Discovery", "CheckInterval", "0.5"),
                                      ("X-Discovery", "Check", "tcp"), ("X-Discovery", "Port", "8080")])
            try await client.execute(uri: "/fleet/v1/units/x.service", method: .put, headers: Self.json, body: body) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
            }
        }
    }

    @Test(arguments: [
        ("CheckInterval", "inf"), ("CheckInterval", "nan"), ("CheckInterval", "1e300"), ("CheckInterval", "-1"),
        ("CheckInterval", "abc"), ("HealthyAfter", "0"), ("HealthyAfter", "99999999999999999999"),
        ("UnhealthyAfter", "-3"), ("TTL", "4294967296"), ("TTL", "-1"), ("TTL", "86401"), ("Port", "65536"),
        ("Port", "0"),
    ])
    func anXDiscoveryNumberOutOfBoundsIsRefusedAtSubmit(name: String, value: String) async throws {
        try await app().test(.router) { client in
            let body = try Self.unit([("Service", "ExecStart", "/bin/true"), ("X-Discovery", name, value)])
            try await client.execute(uri: "/fleet/v1/units/x.service", method: .put, headers: Self.json, body: body) { response in
                #expect(response.status == .badRequest)
                let text = String(buffer: response.body)
                #expect(text.contains("invalid [X-Discovery] option: \(name)=\(value)"), "\(text)")
            }
        }
    }

    @Test func aBodyOverTheLimitIs413InFleetsShape() async throws {
        try await app().test(.router) { client in
            let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: 5 << 20)
            try await client.execute(uri: "/fleet/v1/units/x.service", method: .put, headers: Self.json, body: huge) { response in
                #expect(response.status == .contentTooLarge)
                #expect(String(buffer: response.body).contains(#""error":{"code":413,"message":"request body is larger than"#))
            }
            try await client.execute(uri: "/fleet/v1/machines", method: .patch, headers: Self.json,
                                     body: ByteBuffer(repeating: UInt8(ascii: " "), count: 2 << 20)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(String(buffer: response.body).contains(#""code":413"#))
            }
        }
    }
}
