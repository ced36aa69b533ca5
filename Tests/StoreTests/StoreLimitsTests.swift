@testable import FleetStore
import FleetRemoteStore
@testable import FleetStoreEmbedded
import FleetStoreHTTP
import FleetStoreTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Hostile keys and TTLs (issue 11): refused where they enter, and harmless when an older
/// version already stored them.
@Suite struct StoreLimitsTests {
    static let hugeTTL = Int64.max

    @Test(arguments: StoreBackend.allCases)
    func aTTLBeyondEtcdsLeaseMaximumIsRefusedByEveryBackend(_ backend: StoreBackend) async throws {
        try await backend.with { store, _, _ in
            for write: StoreWrite in [
                .set(key: "/x", value: "v", ttl: Self.hugeTTL, condition: .none),
                .set(key: "/x", value: "v", ttl: StoreLimits.maximumTTL + 1, condition: .none),
                .set(key: "/x", value: "v", ttl: -1, condition: .none),
                .createInOrder(key: "/q", value: "v", ttl: Self.hugeTTL),
            ] {
                let error = await #expect(throws: StoreError.self) { try await store.apply(write) }
                #expect(error?.code == .ttlNaN, "\(write)")
            }
            try await store.set("/x", "v")
            let refresh = await #expect(throws: StoreError.self) { try await store.refresh("/x", ttl: Self.hugeTTL) }
            #expect(refresh?.code == .ttlNaN)
            // The largest allowed TTL is stored and read back (its reply must not trap either).
            try await store.set("/y", "v", ttl: StoreLimits.maximumTTL)
            #expect(try await store.get("/y", recursive: false).value == "v")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func keysDeeperOrLongerThanTheLimitsAreRefusedByEveryBackend(_ backend: StoreBackend) async throws {
        try await backend.with { store, _, _ in
            let deepest = "/" + Array(repeating: "d", count: StoreLimits.maximumKeyDepth).joined(separator: "/")
            try await store.set(deepest, "leaf")
            let tooDeep = await #expect(throws: StoreError.self) { try await store.set(deepest + "/d", "x") }
            #expect(tooDeep?.code == .invalidKey)
            let inOrder = await #expect(throws: StoreError.self) {
                try await store.apply(.createInOrder(key: deepest, value: "x", ttl: nil))
            }
            #expect(inOrder?.code == .invalidKey)
            let tooLong = await #expect(throws: StoreError.self) {
                try await store.set("/" + String(repeating: "k", count: StoreLimits.maximumKeyBytes), "x")
            }
            #expect(tooLong?.code == .invalidKey)
            #expect((tooLong?.cause.utf8.count ?? 0) < 300, "the error quotes only the start of the key")
            let leaves = try await store.get("/d", recursive: true).leaves
            #expect(leaves.map(\.value) == ["leaf"])
        }
    }

    @Test func ttlAndTheWireTimeNeverTrapOnAnyDeadline() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        for seconds in [1e300, -1e300, .infinity, -.infinity, .nan, 9.3e18, -9.3e18, 0] {
            let node = StoreNode(key: "/k", value: "v", createdIndex: 1, modifiedIndex: 1,
                                 expiration: Date(timeIntervalSince1970: seconds))
            #expect((node.ttl(now: now) ?? 0) >= 1)
            #expect(StoreLimits.clamp(expiration: Date(timeIntervalSince1970: seconds)) <= StoreLimits.latestExpiration)
        }
        #expect(StoreNode(key: "/k", createdIndex: 1, modifiedIndex: 1, expiration: .distantFuture).ttl(now: now)
                ?? 0 > 9_000_000_000)
    }

    @Test func aDeepTreesLeavesComeInKeyOrder() {
        var node = StoreNode(key: "/leaf", value: "v", createdIndex: 1, modifiedIndex: 1)
        for depth in 0..<1000 {
            let sibling = StoreNode(key: "/s\(depth)", value: "s\(depth)", createdIndex: 1, modifiedIndex: 1)
            node = StoreNode(key: "/d", isDirectory: true, nodes: [node, sibling], createdIndex: 1, modifiedIndex: 1)
        }
        let values = node.leaves.map(\.value)
        #expect(values.first == "v")
        #expect(values.last == "s999")
        #expect(values.count == 1001)
    }

    /// Rows an older version may have written: a deadline no reply can show and a key 10,000
    /// levels deep. Opening the store and reading everything through the keys API must work.
    @Test func anEmbeddedStoreWithHostileRowsOpensAndAnswers() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let store = try EmbeddedStore(path: path, historyLimit: 10, now: { time.now })
            try await store.set("/ok", "v")
            await store.close()
            do {
                let db = try SQLiteConnection(path: path)
                try db.execute("BEGIN")
                let insert = "INSERT INTO nodes (key, value, created_index, modified_index, expiration) VALUES (?1, ?2, 1, 1, ?3)"
                try db.execute(insert, [.text("/far"), .text("v"), .real(1e300)])
                try db.execute(insert, [.text("/infinite"), .text("v"), .real(.infinity)])
                try db.execute(insert, [.text("/past"), .text("v"), .real(-1e300)])
                var key = "/deep"
                try db.execute(insert, [.text(key), .null, .null])
                for _ in 0..<10_000 {
                    key += "/d"
                    try db.execute(insert, [.text(key), .null, .null])
                }
                try db.execute(insert, [.text(key + "/leaf"), .text("bottom"), .null])
                try db.execute("COMMIT")
                db.close()
            }
            let reopened = try EmbeddedStore(path: path, historyLimit: 10, now: { time.now })
            try await withKeysServer(reopened) { url in
                let remote = RemoteStore(url: url)
                let root = try await remote.get("/", recursive: true)
                #expect(root.child("ok")?.value == "v")
                #expect(root.child("far")?.expiration == StoreLimits.latestExpiration)
                #expect(root.child("infinite")?.expiration == StoreLimits.latestExpiration)
                #expect(root.child("past") == nil, "a deadline long past expires on open")
                _ = try await remote.get("/deep", recursive: true)
                // Deleting the directory removes the rows beyond the limit too.
                try await remote.delete("/deep", recursive: true)
            }
            await reopened.close()
            let again = try EmbeddedStore(path: path, historyLimit: 10, now: { time.now })
            #expect(try await again.getIfPresent("/deep") == nil)
            await again.close()
        }
    }

    @Test func theKeysAPIAnswersAHugeTTLWithEtcdsError202() async throws {
        let router = Router()
        KeysAPI(store: InMemoryStore(), clientURLs: []).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            for uri in ["/v2/keys/x?ttl=9223372036854775807", "/v2/keys/x?ttl=9000000001",
                        "/v2/keys/x?ttl=99999999999999999999"] {
                try await client.execute(uri: uri, method: .put) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(String(buffer: response.body).contains("\"errorCode\":202"), "\(uri)")
                }
            }
            try await client.execute(uri: "/v2/keys/x?ttl=9000000000&value=v", method: .put) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v2/keys/x", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v2/keys/big", method: .put,
                                     body: ByteBuffer(repeating: UInt8(ascii: "a"), count: 2 << 20)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(String(buffer: response.body).contains("\"errorCode\":210"))
            }
            let deep = "/v2/keys" + String(repeating: "/d", count: 10_000)
            try await client.execute(uri: deep + "?value=v", method: .put) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("\"errorCode\":209"))
            }
        }
    }
}
