import FleetStore
@testable import FleetStoreHTTP
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Seeded fuzzing of the keys API's inputs (issue 11): random query strings and form bodies
/// through ``V2Parameters`` and the whole handler over an ``InMemoryStore``. Nothing may trap,
/// no answer may be a 500, and every answer must be etcd's JSON. `FLEET_FUZZ_SECONDS` runs longer.
@Suite struct KeysAPIFuzzTests {
    static let names = ["ttl", "value", "prevExist", "prevIndex", "prevValue", "dir", "recursive", "refresh",
                        "noValueOnSuccess", "sorted", "quorum", "waitIndex", "", "%74tl", "ttl%00"]
    static let values = ["", "0", "1", "-1", "5", "9000000000", "9000000001", "9223372036854775807",
                         "9223372036854775808", "-9223372036854775808", "99999999999999999999", "1e300", "nan",
                         "inf", "true", "false", "t", "F", "x", "%", "%zz", "%00", "%FF", "+", "a+b", "é", "%2F..%2F",
                         String(repeating: "v", count: 3000)]
    static let segments = ["a", "b", "_hidden", "..", ".", "%2F", "%2e%2e", "%00", "%", "é", "x%20y", "00000000000000000001",
                           String(repeating: "k", count: 600)]

    static func query(_ generator: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...6, using: &generator)).map { _ -> String in
            if Int.random(in: 0..<10, using: &generator) == 0 {
                // Raw bytes, percent-encoded or not: what a careless or hostile client sends.
                let bytes = (0..<Int.random(in: 0...12, using: &generator)).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) }
                return String(decoding: bytes.filter { $0 != UInt8(ascii: "#") }, as: UTF8.self)
            }
            let name = names.randomElement(using: &generator)!
            return Bool.random(using: &generator) ? name + "=" + values.randomElement(using: &generator)! : name
        }.joined(separator: "&")
    }

    static func path(_ generator: inout SeededGenerator) -> String {
        let depth = Int.random(in: 0..<20, using: &generator) == 0 ? Int.random(in: 60...200, using: &generator)
            : Int.random(in: 0...4, using: &generator)
        return "/v2/keys" + (0..<depth).map { _ in "/" + segments.randomElement(using: &generator)! }.joined()
    }

    @Test func parametersNeverTrap() async {
        let budget = FuzzBudget("keys-api parameters", seed: 0x7E57_0001, cases: 20_000)
        await budget.run { generator in
            let params = V2Parameters(query: Self.query(&generator), formBody: Self.query(&generator))
            if let ttl = try? params.ttl(), let seconds = ttl {
                guard (0...StoreLimits.maximumTTL).contains(seconds) else {
                    Issue.record("ttl \(seconds) passed the bounds")
                    return false
                }
            }
            _ = try? params.condition()
            _ = try? params.bool("recursive")
            _ = try? params.index("waitIndex")
            return true
        }
    }

    @Test func theHandlerNeverTrapsOrAnswers500() async throws {
        let router = Router()
        let store = InMemoryStore()
        KeysAPI(store: store, clientURLs: [], maxBodyBytes: 64 << 10).addRoutes(to: router)
        let budget = FuzzBudget("keys-api handler", seed: 0x7E57_0002, cases: 1500)
        try await Application(router: router).test(.router) { client in
            try await budget.run { generator in
                let method: HTTPRequest.Method = [.get, .head, .put, .put, .post, .delete].randomElement(using: &generator)!
                let query = Self.query(&generator)
                let uri = Self.path(&generator) + (query.isEmpty ? "" : "?" + query)
                let form = method == .get || method == .head ? nil : Self.query(&generator)
                var ok = true
                try await client.execute(uri: uri, method: method, body: form.map { ByteBuffer(string: $0) }) { response in
                    if response.status.code >= 500 {
                        Issue.record("\(method) \(uri) body \(form ?? "") answered \(response.status)")
                        ok = false
                    } else if method != .head, response.headers[.contentType] == "application/json",
                              (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) == nil {
                        Issue.record("\(method) \(uri) answered something that is not JSON: \(String(buffer: response.body))")
                        ok = false
                    }
                }
                return ok
            }
            try await client.execute(uri: "/v2/keys/?recursive=true", method: .get) { response in
                #expect(response.status == .ok, "the whole tree still reads back")
            }
        }
    }
}
