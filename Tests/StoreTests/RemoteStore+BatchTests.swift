@testable import FleetRemoteStore
import FleetStore
import Foundation
import Hummingbird
import Synchronization
import Testing

/// A remote store's writes go to a fleet keys API in batches (`POST /v2/batch`) while requests
/// are on their way, each write keeping its own answer (issue 16: serving the other machines'
/// single writes was most of the store machine's CPU in a start).
@Suite struct RemoteStoreBatchTests {
    /// `count` writes at once through `store`; each one's outcome, in order.
    static func concurrently(_ count: Int, _ write: @escaping @Sendable (Int) async throws -> StoreEvent) async
        -> [Result<StoreEvent, StoreError>]
    {
        await withTaskGroup(of: (Int, Result<StoreEvent, StoreError>).self) { group in
            for position in 0..<count {
                group.addTask {
                    do {
                        return (position, .success(try await write(position)))
                    } catch let error as StoreError {
                        return (position, .failure(error))
                    } catch {
                        return (position, .failure(StoreError(.unavailable, "\(error)")))
                    }
                }
            }
            var results = [Result<StoreEvent, StoreError>](repeating: .failure(StoreError(.unavailable, "never ran")), count: count)
            for await (position, result) in group { results[position] = result }
            return results
        }
    }

    @Test func concurrentWritesGoTogetherAndEachGetsItsOwnAnswer() async throws {
        let backing = InMemoryStore()
        try await withKeysServer(backing) { url in
            let store = RemoteStore(url: url)
            try await store.set("/taken", "x")  // its reply tells the store the server takes batches
            #expect(store.writes.batching)
            let results = await Self.concurrently(120) { position in
                switch position % 4 {
                case 0: try await store.create("/taken", "again")  // refused: the key exists
                case 1: try await store.set("/units/u\(position)", "v\(position)", ttl: 60)
                case 2: try await store.apply(.createInOrder(key: "/queue\(position)", value: "q", ttl: nil))
                default: try await store.set("/dirs/d\(position)/leaf", "l\(position)")
                }
            }
            #expect(store.batchedRequests >= 1, "120 writes at once went one request each")
            #expect(store.batchedRequests < 120)
            for (position, result) in results.enumerated() {
                switch (position % 4, result) {
                case (0, .failure(let error)):
                    #expect(error.code == .nodeExists)
                case (1, .success(let event)):
                    #expect(event.node.key == "/units/u\(position)" && event.node.value == "v\(position)")
                    #expect(event.node.expiration != nil, "the TTL went with the write")
                case (2, .success(let event)):
                    #expect(event.action == .create && event.node.key.hasPrefix("/queue\(position)/"))
                case (3, .success(let event)):
                    #expect(event.node.value == "l\(position)")
                default:
                    Issue.record("write \(position): unexpected \(result)")
                }
            }
            #expect(try await backing.value("/taken") == "x")
            #expect(try await backing.value("/units/u5") == "v5")
            #expect(try await backing.value("/dirs/d3/leaf") == "l3")
        }
    }

    /// Guards and owners are checked in a batch as in a lone write: no write passes because
    /// others around it did.
    @Test func guardedAndAttachedWritesKeepTheirChecksInABatch() async throws {
        let backing = InMemoryStore()
        try await withKeysServer(backing) { url in
            let store = RemoteStore(url: url)
            let owner = try await store.set("/machines/m1", "up", ttl: 60)
            let goodGuard = StoreGuard(key: "/machines/m1", createdIndex: owner.node.createdIndex, value: nil)
            let staleGuard = StoreGuard(key: "/machines/m1", createdIndex: owner.node.createdIndex + 1000, value: nil)
            let results = await Self.concurrently(60) { position in
                switch position % 3 {
                case 0: try await store.attach("/states/a\(position)", "s", to: "/machines/m1")
                case 1: try await store.set("/guarded/g\(position)", "ok", condition: StoreCondition(guardedBy: goodGuard))
                default: try await store.set("/guarded/g\(position)", "no", condition: StoreCondition(guardedBy: staleGuard))
                }
            }
            #expect(store.batchedRequests >= 1)
            for (position, result) in results.enumerated() {
                switch (position % 3, result) {
                case (0, .success), (1, .success): break
                case (2, .failure(let error)): #expect(error.code == .guardFailed, "write \(position): \(error)")
                default: Issue.record("write \(position): unexpected \(result)")
                }
            }
            #expect(try await backing.getIfPresent("/guarded/g2") == nil, "a stale guard's write was applied")
            // The attached states go with their owner.
            try await backing.deleteIfPresent("/machines/m1", recursive: false)
            #expect(try await backing.getIfPresent("/states/a0") == nil, "an attached state outlived its owner")
        }
    }

    /// Writes of one key (or a key and its directory) never share a batch: the server applies a
    /// batch in no order. Written concurrently, every one is still applied, one after another.
    @Test func writesThatTouchOneKeyAreNotBatchedTogether() async throws {
        let a = V2Batch.Footprint(written: "/a", read: [])
        #expect(a.overlaps(V2Batch.Footprint(written: "/a", read: [])))
        #expect(a.overlaps(V2Batch.Footprint(written: "/a/b", read: [])))
        #expect(a.overlaps(V2Batch.Footprint(written: "/x", read: ["/a"])))
        #expect(!a.overlaps(V2Batch.Footprint(written: "/ab", read: [])))
        #expect(!a.overlaps(V2Batch.Footprint(written: "/b", read: ["/c"])))
        #expect(!V2Batch.Footprint(written: "/s/1", read: ["/m/1"]).overlaps(V2Batch.Footprint(written: "/s/2", read: ["/m/1"])),
                "two writes that read one owner may share a batch")
        #expect(V2Batch.Footprint(written: "/", read: []).overlaps(a))

        let backing = InMemoryStore()
        let statuses = Mutex<[Int]>([])
        try await withKeysServer(backing, batchReplies: { status in statuses.withLock { $0.append(status) } }) { url in
            let store = RemoteStore(url: url)
            try await store.set("/counter", "0")
            let results = await Self.concurrently(40) { position in
                // The same key spelled two ways: the server reads both as /counter.
                position.isMultiple(of: 4) ? try await store.set("/counter", "\(position)")
                    : position.isMultiple(of: 2) ? try await store.set("//counter/", "\(position)")
                    : try await store.set("/others/o\(position)", "x")
            }
            for result in results { _ = try result.get() }
            #expect(store.batchedRequests >= 1)
        }
        #expect(!statuses.withLock { $0 }.isEmpty)
        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 200 }, "a batch the server had to refuse: \(statuses.withLock { $0 })")
    }

    /// The server's check of a whole batch finds the same pairs the footprints do, in one pass.
    @Test func aBatchsConflictsAreFoundWhereverTheyAre() {
        func f(_ written: String, _ read: String...) -> V2Batch.Footprint { V2Batch.Footprint(written: written, read: read) }
        #expect(V2Batch.conflict(in: [f("/a"), f("/b"), f("/c/d")]) == nil)
        #expect(V2Batch.conflict(in: [f("/s/1", "/m/1"), f("/s/2", "/m/1")]) == nil, "two readers of one owner")
        #expect(V2Batch.conflict(in: [f("/lease", "/lease"), f("/x")]) == nil, "a write guarded by its own key")
        #expect(V2Batch.conflict(in: [f("/a"), f("/b"), f("/a")])! == (0, 2))
        #expect(V2Batch.conflict(in: [f("/a/b/c"), f("/x"), f("/a")])! == (0, 2), "an ancestor written after")
        #expect(V2Batch.conflict(in: [f("/a"), f("/x"), f("/a/b/c")])! == (0, 2), "a descendant written after")
        #expect(V2Batch.conflict(in: [f("/s", "/m"), f("/m")])! == (0, 1), "a guard written by another")
        #expect(V2Batch.conflict(in: [f("/s", "/m/x"), f("/m")])! == (0, 1), "a guard below a key another writes")
        #expect(V2Batch.conflict(in: [f("/s", "/m"), f("/m/x")])! == (0, 1), "a guard above a key another writes")
        #expect(V2Batch.conflict(in: [f("/a"), f("/")]) != nil)
        #expect(V2Batch.conflict(in: [f("/a"), f("/b", "/")]) != nil)
        #expect(V2Batch.conflict(in: [f("/ab"), f("/a")]) == nil, "a shared prefix is not an ancestor")
        // The pairwise rule the client batches by agrees on every pair of a mixed set.
        let set = [f("/a"), f("/a/b"), f("/ab"), f("/c", "/a/b"), f("/d", "/m"), f("/e", "/m"), f("/m/x"), f("/")]
        for i in set.indices {
            for j in set.indices where j > i {
                #expect((V2Batch.conflict(in: [set[i], set[j]]) != nil) == set[i].overlaps(set[j]), "\(i), \(j)")
            }
        }
    }

    /// The store gone for a while (its fleetd killed and restarted): writes that waited for a
    /// batch fail with it, none left waiting; once it listens again writes go through, batched.
    @Test func whileTheServerIsGoneBatchedWritesFailAndAfterwardsTheyGoAgain() async throws {
        let backing = InMemoryStore()
        let port = Mutex(0)
        try await withKeysServer(backing) { url in port.withLock { $0 = Int(url.split(separator: ":").last ?? "") ?? 0 } }
        let url = "http://127.0.0.1:\(port.withLock { $0 })"
        let store = RemoteStore(url: url, requestTimeout: .seconds(2))
        try await withKeysServer(backing, port: port.withLock { $0 }) { _ in
            try await store.set("/first", "1")
            #expect(store.writes.batching)
        }
        let whileGone = await Self.concurrently(40) { position in try await store.set("/gone/k\(position)", "x") }
        #expect(whileGone.allSatisfy { if case .failure = $0 { true } else { false } }, "a write succeeded with no server")
        let batchesBefore = store.batchedRequests
        try await withKeysServer(backing, port: port.withLock { $0 }) { _ in
            let afterwards = await Self.concurrently(40) { position in try await store.set("/back/k\(position)", "\(position)") }
            for result in afterwards { _ = try result.get() }
        }
        #expect(try await backing.value("/back/k39") == "39")
        #expect(try await backing.getIfPresent("/gone/k0") == nil)
        #expect(store.batchedRequests > batchesBefore, "writes no longer batched after the server came back")
    }

    /// A server that stops taking batches (a fleetd replaced by an older one) answers 404: the
    /// batch's writes are sent again one by one and batching stops.
    @Test func aBatchTheServerDoesNotKnowIsSentAgainOneByOne() async throws {
        let backing = InMemoryStore()
        try await withKeysServer(backing, refusingBatches: true) { url in
            let store = RemoteStore(url: url)
            try await store.set("/first", "1")
            let results = await Self.concurrently(50) { position in try await store.set("/k\(position)", "\(position)") }
            for result in results { _ = try result.get() }
            #expect(try await backing.value("/k49") == "49")
            #expect(!store.writes.batching, "batching went on against a server that refused it")
        }
    }

    /// etcd, or a fleetd from before batches, never names the feature: every write goes alone.
    @Test func aServerThatDoesNotSayItBatchesGetsLoneWrites() async throws {
        let backing = InMemoryStore()
        try await withKeysServer(backing, asOlderServer: true) { url in
            let store = RemoteStore(url: url)
            try await store.set("/first", "1")
            let results = await Self.concurrently(50) { position in try await store.set("/k\(position)", "\(position)") }
            for result in results { _ = try result.get() }
            #expect(store.batchedRequests == 0)
            #expect(try await backing.value("/k7") == "7")
        }
    }
}
