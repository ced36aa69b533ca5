import FleetRemoteStore
import FleetStore
@testable import FleetStoreHTTP
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `POST /v2/batch` as the keys API serves it: each write read and answered as its own request
/// would be, the batch refused as a whole only when it cannot mean one thing.
@Suite struct KeysAPIBatchTests {
    static let json: HTTPFields = [.contentType: "application/json"]

    func withAPI(maxBodyBytes: Int = KeysAPI.defaultMaxBodyBytes,
                 _ body: @Sendable (InMemoryStore, any TestClientProtocol) async throws -> Void) async throws {
        let store = InMemoryStore()
        let router = Router()
        KeysAPI(store: store, clientURLs: [], maxBodyBytes: maxBodyBytes).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in try await body(store, client) }
    }

    static func body(_ writes: [V2Batch.Write]) throws -> ByteBuffer {
        ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: writes)))
    }

    @Test func eachWriteIsAnsweredAsItsOwnRequestInOrder() async throws {
        try await withAPI { store, client in
            _ = try await store.set("/taken", "x")
            let writes = [
                V2Batch.Write(method: "PUT", key: "/a", form: "value=1&ttl=30"),
                V2Batch.Write(method: "PUT", key: "/taken", query: "prevExist=false", form: "value=y"),
                V2Batch.Write(method: "POST", key: "/queue", form: "value=q"),
                V2Batch.Write(method: "DELETE", key: "/missing"),
                V2Batch.Write(method: "PUT", key: "/b", query: "ttl=x", form: "value=2"),
            ]
            try await client.execute(uri: V2Batch.path, method: .post, headers: Self.json, body: try Self.body(writes)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("X-Fleet-Store-Features")!]?.contains("batch") == true)
                let reply = try JSONDecoder().decode(V2Batch.Reply.self, from: Data(response.body.readableBytesView))
                #expect(reply.results.map(\.status) == [201, 412, 201, 404, 400])
                #expect(reply.results[0].event?.node.value == "1" && reply.results[0].event?.node.ttl == 30)
                #expect(reply.results[1].error?.errorCode == 105)
                #expect(reply.results[2].event?.node.key.hasPrefix("/queue/") == true)
                #expect(reply.results[3].error?.errorCode == 100)
                #expect(reply.results[4].error?.errorCode == 202)
            }
            #expect(try await store.value("/a") == "1")
            #expect(try await store.value("/taken") == "x")
            #expect(try await store.getIfPresent("/b") == nil)
        }
    }

    @Test func aBatchThatCannotMeanOneThingIsRefusedWhole() async throws {
        try await withAPI(maxBodyBytes: 64 << 10) { store, client in
            let put = { (key: String) in V2Batch.Write(method: "PUT", key: key, form: "value=v") }
            let refused: [(String, ByteBuffer)] = [
                ("one key twice", try Self.body([put("/a"), put("/b"), put("/a")])),
                ("a key and its directory", try Self.body([put("/d/x"), V2Batch.Write(method: "DELETE", key: "/d", query: "dir=true&recursive=true")])),
                ("a key spelled twice", try Self.body([put("/e"), put("//e/")])),
                ("a write guarded by another", try Self.body([put("/m"), V2Batch.Write(method: "PUT", key: "/s", query: "guardKey=/m&guardIndex=1", form: "value=v")])),
                ("a write attached to another", try Self.body([put("/m"), V2Batch.Write(method: "PUT", key: "/s", query: "owner=/m", form: "value=v")])),
                ("a read", try Self.body([V2Batch.Write(method: "GET", key: "/a")])),
                ("a watch's method", try Self.body([V2Batch.Write(method: "HEAD", key: "/a")])),
                ("an invalid key", try Self.body([put("/a"), put("/b/../c")])),
                ("no writes", try Self.body([])),
                ("too many writes", try Self.body((0...V2Batch.maxWrites).map { put("/k\($0)") })),
                ("not JSON", ByteBuffer(string: "writes=1")),
                ("the wrong shape", ByteBuffer(string: #"{"writes":{"method":"PUT"}}"#)),
            ]
            for (what, body) in refused {
                try await client.execute(uri: V2Batch.path, method: .post, headers: Self.json, body: body) { response in
                    #expect(response.status == .badRequest, "\(what): \(response.status)")
                    #expect(String(buffer: response.body).contains(#""errorCode":209"#), "\(what)")
                }
            }
            try await client.execute(uri: V2Batch.path, method: .post, headers: Self.json,
                                     body: ByteBuffer(repeating: UInt8(ascii: " "), count: 65 << 10)) { response in
                #expect(response.status == .contentTooLarge)
            }
            #expect(try await store.getIfPresent("/a") == nil, "a refused batch wrote something")
            #expect(try await store.getIfPresent("/m") == nil, "a refused batch wrote something")
        }
    }

    /// Random batches built from the keys API fuzzer's keys, parameters and bodies: nothing traps,
    /// neither the batch nor any of its answers is a 500, and the reply is JSON.
    @Test func randomBatchesNeverTrapOrAnswer500() async throws {
        try await withAPI(maxBodyBytes: 256 << 10) { _, client in
            let budget = FuzzBudget("keys-api batch", seed: 0x7E57_0B01, cases: 400)
            try await budget.run { generator in
                let count = Int.random(in: 1...12, using: &generator)
                let writes = (0..<count).map { _ in
                    V2Batch.Write(method: ["PUT", "PUT", "POST", "DELETE", "GET", "put", ""].randomElement(using: &generator)!,
                                  key: String(KeysAPIFuzzTests.path(&generator).dropFirst("/v2/keys".count)),
                                  query: KeysAPIFuzzTests.query(&generator), form: KeysAPIFuzzTests.query(&generator))
                }
                var ok = true
                try await client.execute(uri: V2Batch.path, method: .post, headers: Self.json, body: try Self.body(writes)) { response in
                    guard response.status.code < 500 else {
                        Issue.record("a batch answered \(response.status): \(writes)")
                        ok = false
                        return
                    }
                    guard response.status == .ok else { return }
                    guard let reply = try? JSONDecoder().decode(V2Batch.Reply.self, from: Data(response.body.readableBytesView)),
                          reply.results.count == writes.count else {
                        Issue.record("a batch's reply is not one answer per write: \(String(buffer: response.body))")
                        ok = false
                        return
                    }
                    if let bad = reply.results.first(where: { $0.status >= 500 }) {
                        Issue.record("a write of a batch answered \(bad.status): \(writes)")
                        ok = false
                    }
                }
                return ok
            }
        }
    }
}
