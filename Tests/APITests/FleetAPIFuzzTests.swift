import FleetAPI
import FleetAPIClient
import FleetRegistry
import FleetStore
import FleetTestSupport
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Seeded fuzzing of fleet API bodies (issue 11): random unit entities and byte-level mutations
/// of valid ones, PUT to `/fleet/v1/units/<name>`. Nothing may trap or answer 500; every error is
/// fleet's JSON; a unit that is accepted reads back with exactly the options sent.
/// `FLEET_FUZZ_SECONDS` runs longer.
@Suite struct FleetAPIFuzzTests {
    static let names = ["x.service", "web@1.service", "web@.service", "a.socket", "x", "..", "é.service",
                        String(repeating: "n", count: 300) + ".service"]
    static let sections = ["Unit", "Service", "X-Fleet", "X-Discovery", "Install", "", "Serv ice", "[Service]", "é"]
    static let optionNames = ["ExecStart", "Description", "Conflicts", "MachineOf", "MachineMetadata", "Global",
                              "CheckInterval", "HealthyAfter", "UnhealthyAfter", "TTL", "Port", "Check", "Name",
                              "", "A=B", "X Y", "#c"]
    static let optionValues = ["/bin/true", "", " padded ", "a\\", "line\nExecStartPre=/bin/evil", "\n[Service]\nA=b",
                               "inf", "nan", "1e300", "-1", "0", "0.5", "65536", "8080", "99999999999999999999",
                               "tcp", "http://127.0.0.1:1/", "a*", "\"a=1\" \"b=2\"", "%n", "\r", "\u{0}",
                               String(repeating: "x", count: 2100)]
    static let states = ["inactive", "loaded", "launched", "running", "", "LAUNCHED"]

    static func entity(_ generator: inout SeededGenerator, name: String) -> [String: Any] {
        var entity: [String: Any] = ["name": Int.random(in: 0..<10, using: &generator) == 0
                                        ? names.randomElement(using: &generator)! : name]
        if Bool.random(using: &generator) { entity["desiredState"] = states.randomElement(using: &generator)! }
        if Int.random(in: 0..<8, using: &generator) == 0 { entity["currentState"] = states.randomElement(using: &generator)! }
        if Int.random(in: 0..<8, using: &generator) != 0 {
            entity["options"] = (0..<Int.random(in: 0...6, using: &generator)).map { _ in
                ["section": sections.randomElement(using: &generator)!, "name": optionNames.randomElement(using: &generator)!,
                 "value": optionValues.randomElement(using: &generator)!]
            }
        }
        return entity
    }

    /// Flips, drops and inserts a few bytes: JSON that is almost valid.
    static func mutate(_ bytes: [UInt8], _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: bytes[at] = Array("{}[]\":,\\0-e9n".utf8).randomElement(using: &generator)!
            case 1: bytes.remove(at: at)
            default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: at)
            }
        }
        return bytes
    }

    @Test func unitBodiesNeverTrapOr500() async throws {
        let router = Router()
        APIRoutes(registry: Registry(store: InMemoryStore())).addRoutes(to: router)
        let budget = FuzzBudget("fleet-api unit bodies", seed: 0xF1EE_7001, cases: 1500)
        let json: HTTPFields = [.contentType: "application/json"]
        try await Application(router: router).test(.router) { client in
            try await budget.run { generator in
                let name = Self.names.randomElement(using: &generator)!
                let entity = Self.entity(&generator, name: name)
                var body = [UInt8](try JSONSerialization.data(withJSONObject: entity))
                let mutated = Int.random(in: 0..<4, using: &generator) == 0
                if mutated { body = Self.mutate(body, &generator) }
                let uri = "/fleet/v1/units/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name)
                var ok = true
                var created = false
                try await client.execute(uri: uri, method: .put, headers: json, body: ByteBuffer(bytes: body)) { response in
                    let text = String(buffer: response.body)
                    if response.status.code >= 500 {
                        Issue.record("PUT \(name) \(String(decoding: body, as: UTF8.self)) answered \(response.status): \(text)")
                        ok = false
                    } else if response.status.code >= 400, !text.contains(#""error":{"code":\#(response.status.code)"#) {
                        Issue.record("PUT \(name) answered \(response.status) without fleet's error body: \(text)")
                        ok = false
                    }
                    created = response.status == .created
                }
                // An accepted unit must hold exactly the options sent: none smuggled in, none lost.
                if created, !mutated, let sent = entity["options"] as? [[String: String]], !sent.isEmpty {
                    let want = UnitFile(options: sent.map { UnitOption(section: $0["section"]!, name: $0["name"]!, value: $0["value"]!) })
                    try await client.execute(uri: uri, method: .get) { response in
                        let got = try JSONDecoder().decode(UnitEntity.self, from: response.body)
                        if got.options != want.options {
                            Issue.record("\(name): sent \(want.options), stored \(got.options ?? [])")
                            ok = false
                        }
                    }
                }
                return ok
            }
        }
    }

    /// The same entities, a few to a batch (`POST /fleet/v1/batch/units`), mutated or not: the
    /// batch never traps or answers 500; a refused batch is fleet's error body; an accepted one
    /// answers one outcome per unit, in order, each 2xx or 4xx, never 500.
    @Test func unitBatchesNeverTrapOr500() async throws {
        let router = Router()
        APIRoutes(registry: Registry(store: InMemoryStore())).addRoutes(to: router)
        let budget = FuzzBudget("fleet-api unit batches", seed: 0xF1EE_7002, cases: 500)
        let json: HTTPFields = [.contentType: "application/json"]
        try await Application(router: router).test(.router) { client in
            try await budget.run { generator in
                let units = (0..<Int.random(in: 0...5, using: &generator)).map { _ in
                    Self.entity(&generator, name: Self.names.randomElement(using: &generator)!)
                }
                var body = [UInt8](try JSONSerialization.data(withJSONObject: ["units": units]))
                if Int.random(in: 0..<4, using: &generator) == 0 { body = Self.mutate(body, &generator) }
                var ok = true
                try await client.execute(uri: "/fleet/v1/batch/units", method: .post, headers: json, body: ByteBuffer(bytes: body)) { response in
                    let text = String(buffer: response.body)
                    if response.status == .ok {
                        let outcomes = try JSONDecoder().decode(UnitBatchOutcomes.self, from: response.body).results
                        if outcomes.count != units.count || outcomes.contains(where: { !(200..<500).contains($0.code) }) {
                            Issue.record("batch \(String(decoding: body, as: UTF8.self)) answered \(text)")
                            ok = false
                        }
                    } else if response.status.code >= 500 || !text.contains(#""error":{"code":\#(response.status.code)"#) {
                        Issue.record("batch \(String(decoding: body, as: UTF8.self)) answered \(response.status): \(text)")
                        ok = false
                    }
                }
                return ok
            }
        }
    }
}
