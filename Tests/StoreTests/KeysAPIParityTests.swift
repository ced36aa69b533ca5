import FleetRemoteStore
import FleetStore
@testable import FleetStoreHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The keys API's answers where they differed from etcd 3.4's (`--enable-v2`), found by sending
/// the same requests to both (issue 12, item 8; `Tests/cluster/keys-diff.test.sh` keeps checking
/// against a real etcd). Each test failed before its fix.
@Suite struct KeysAPIParityTests {
    /// Runs `body` against a keys API over a fresh in-memory store.
    func withKeysAPI(historyLimit: Int = 1000, _ body: @Sendable (any TestClientProtocol) async throws -> Void)
        async throws
    {
        let router = Router()
        KeysAPI(store: InMemoryStore(historyLimit: historyLimit), clientURLs: []).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in try await body(client) }
    }

    func json(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
    }

    @Test func makingAnExistingDirectoryAgainIsNotAFile() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/d?dir=true", method: .put) { #expect($0.status == .created) }
            try await client.execute(uri: "/v2/keys/d?dir=true", method: .put) { response in
                #expect(response.status == .forbidden)
                #expect(json(response.body)["errorCode"] as? Int == 102)
            }
        }
    }

    @Test func aValueBesideDirTrueIsIgnored() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/d?dir=true&value=ignored", method: .put) { response in
                #expect(response.status == .created)
                let node = json(response.body)["node"] as? [String: Any]
                #expect(node?["dir"] as? Bool == true)
                #expect(node?["value"] == nil)
            }
        }
    }

    @Test func aWatchFromBeyondTheHistoryIsAnHTTP400() async throws {
        try await withKeysAPI(historyLimit: 5) { client in
            for i in 0..<30 {
                try await client.execute(uri: "/v2/keys/k?value=\(i)", method: .put) { #expect($0.status.code < 300) }
            }
            try await client.execute(uri: "/v2/keys/k?wait=true&waitIndex=2", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(json(response.body)["errorCode"] as? Int == 401)
            }
        }
    }

    @Test func ttlZeroShowsAnExpirationAndNoTTL() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/t?value=1&ttl=0", method: .put) { response in
                #expect(response.status == .created)
                let node = json(response.body)["node"] as? [String: Any]
                #expect(node?["expiration"] != nil)
                #expect(node?["ttl"] == nil, "etcd leaves out a ttl of 0")
            }
            try await client.execute(uri: "/v2/keys/u?value=1&ttl=100", method: .put) { response in
                #expect((json(response.body)["node"] as? [String: Any])?["ttl"] as? Int == 100)
            }
        }
    }

    @Test func aMethodNotServedSaysSo() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/a", method: .patch) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(String(buffer: response.body) == "Method Not Allowed\n")
                #expect(response.headers[.allow] == "HEAD,GET,PUT,POST,DELETE")
            }
        }
    }

    @Test func aPathThatIsNotCleanIsRedirected() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys//dir//key", method: .get) { response in
                #expect(response.status == .movedPermanently)
                #expect(response.headers[.location] == "/v2/keys/dir/key")
            }
            try await client.execute(uri: "/v2/keys/./dir/?recursive=true", method: .get) { response in
                #expect(response.status == .movedPermanently)
                #expect(response.headers[.location] == "/v2/keys/dir/?recursive=true")
            }
            // `..` stays refused rather than resolved (a difference kept on purpose).
            try await client.execute(uri: "/v2/keys/a/../b", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v2/keys/", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/keys", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test(arguments: ["-1", "-9223372036854775808", "abc", "1.5"])
    func aNegativeOrMalformedTTLIs202(_ ttl: String) async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/t?value=1&ttl=\(ttl)", method: .put) { response in
                #expect(response.status == .badRequest)
                #expect(json(response.body)["errorCode"] as? Int == 202)
            }
        }
    }

    @Test func theRootHasNoKeyAndNoIndexes() async throws {
        try await withKeysAPI { client in
            try await client.execute(uri: "/v2/keys/a?value=1", method: .put) { #expect($0.status == .created) }
            try await client.execute(uri: "/v2/keys/", method: .get) { response in
                let node = json(response.body)["node"] as? [String: Any]
                #expect(node?["dir"] as? Bool == true)
                #expect(node?["key"] == nil && node?["createdIndex"] == nil && node?["modifiedIndex"] == nil)
                #expect((node?["nodes"] as? [[String: Any]])?.first?["key"] as? String == "/a")
            }
        }
    }

    @Test func aNodeWithoutKeyOrIndexesReadsAsTheRoot() throws {
        let node = try JSONDecoder().decode(V2Node.self, from: Data(#"{"dir":true}"#.utf8))
        #expect(node.key == "/" && node.createdIndex == 0 && node.modifiedIndex == 0 && node.dir == true)
    }

    @Test func cleanPaths() {
        #expect(KeysAPI.cleanPath("/v2/keys//a//b") == "/v2/keys/a/b")
        #expect(KeysAPI.cleanPath("/v2/keys/a/./b/") == "/v2/keys/a/b/")
        #expect(KeysAPI.cleanPath("/v2/keys/") == "/v2/keys/")
        #expect(KeysAPI.cleanPath("/v2/keys/a/../b") == nil)
        #expect(KeysAPI.cleanPath("//") == "/")
    }
}
