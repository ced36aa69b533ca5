import FleetStore
import FleetStoreEmbedded
import Foundation
import Testing

/// The store's files hold every unit's contents (secrets in `Environment=` included): they are
/// owner-only, whether fleet creates them or finds them left readable by an older version.
@Suite struct StoreFileModesTests {
    private func mode(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o7777 : nil
    }

    @Test func aNewStoreAndItsWALAreOwnerOnly() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let store = try EmbeddedStore(path: path)
            try await store.set("/fleet/job/web.service/object", "[Service]\nEnvironment=SECRET=x")
            #expect(store.tightenedFiles.isEmpty, "nothing existed to tighten")
            for file in [path, path + "-wal"] {
                #expect(mode(file) == 0o600, "\(file)")
            }
            // In exclusive locking mode SQLite keeps the WAL index in memory: usually no -shm.
            #expect(mode(path + "-shm") == nil || mode(path + "-shm") == 0o600)
            await store.close()
        }
    }

    @Test func anExistingReadableStoreIsTightenedAndReported() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let first = try EmbeddedStore(path: path)
            try await first.set("/a", "1")
            await first.close()
            // As an older fleetd left them: readable by everyone.
            #expect(chmod(path, 0o644) == 0)
            #expect(FileManager.default.createFile(atPath: path + "-wal", contents: nil,
                                                   attributes: [.posixPermissions: 0o644]))
            let store = try EmbeddedStore(path: path)
            #expect(try await store.get("/a", recursive: false).value == "1")
            #expect(store.tightenedFiles.map(\.path).sorted() == [path, path + "-wal"])
            #expect(store.tightenedFiles.allSatisfy { $0.from == 0o644 && $0.to == 0o600 })
            #expect(mode(path) == 0o600)
            #expect(mode(path + "-wal") == 0o600)
            await store.close()
        }
    }

    @Test func theDataDirectoryIsCreatedOrTightenedToOwnerOnly() async throws {
        try await withTemporaryDirectory { directory in
            let created = directory + "/lib/fleet"
            #expect(try StoreFileModes.secureDirectory(at: created) == nil)
            #expect(mode(created) == 0o700)
            let open = directory + "/open"
            try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o755])
            let change = try StoreFileModes.secureDirectory(at: open)
            #expect(change == StoreFileModes.Change(path: open, from: 0o755, to: 0o700))
            #expect(mode(open) == 0o700)
        }
    }

    @Test func aSharedStickyDirectoryIsLeftAlone() async throws {
        try await withTemporaryDirectory { directory in
            let shared = directory + "/shared"
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
            #expect(chmod(shared, 0o1777) == 0)
            #expect(try StoreFileModes.secureDirectory(at: shared) == nil)
            #expect(mode(shared) == 0o1777)
            #expect(StoreFileModes.ownershipProblem(at: shared)?.contains("sticky") == true)
        }
    }
}
