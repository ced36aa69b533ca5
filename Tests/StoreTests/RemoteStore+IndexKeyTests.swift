import FleetRemoteStore
import FleetStore
import FleetStoreHTTP
import Synchronization
import Testing

/// ``RemoteStore/currentIndex()`` reads only ``RemoteStore/indexKey``: fleet-dns with a
/// `discovery-reader` certificate may read `/discovery` and nothing else, and a read of the
/// root is refused (403), which kept it from ever loading its snapshot.
@Suite struct RemoteStoreIndexKeyTests {
    /// Passes everything to an in-memory store and records the keys read.
    final class ReadRecorder: KeyValueStore {
        let backing = InMemoryStore()
        let reads = Mutex<[String]>([])

        func get(_ key: String, recursive: Bool) async throws -> StoreNode {
            reads.withLock { $0.append(key) }
            return try await backing.get(key, recursive: recursive)
        }
        func apply(_ write: StoreWrite) async throws -> StoreEvent { try await backing.apply(write) }
        func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
            -> AsyncThrowingStream<StoreEvent, any Error>
        {
            try await backing.watch(key, recursive: recursive, fromIndex: fromIndex)
        }
        func currentIndex() async throws -> UInt64 { await backing.currentIndex() }
    }

    @Test func theIndexIsReadFromTheIndexKeyOnly() async throws {
        let store = ReadRecorder()
        try await store.backing.set("/discovery/web/1", "a")
        try await store.backing.set("/fleet/secret", "b")
        try await withKeysServer(store) { url in
            let index = try await RemoteStore(url: url, indexKey: "/discovery").currentIndex()
            #expect(index == 2)
            #expect(store.reads.withLock { $0 } == ["/discovery"])
        }
    }

    /// A missing key still tells the index: etcd's error carries it.
    @Test func aMissingIndexKeyStillGivesTheIndex() async throws {
        let store = ReadRecorder()
        for key in ["/fleet/a", "/fleet/b", "/fleet/c"] { try await store.backing.set(key, "x") }
        try await withKeysServer(store) { url in
            let index = try await RemoteStore(url: url, indexKey: "/discovery").currentIndex()
            #expect(index == 3)
        }
    }

    @Test func byDefaultTheRootIsRead() async throws {
        let store = ReadRecorder()
        try await store.backing.set("/a", "a")
        try await withKeysServer(store) { url in
            let index = try await RemoteStore(url: url).currentIndex()
            #expect(index == 1)
            #expect(store.reads.withLock { $0 } == ["/"])
        }
    }
}
