import FleetAPIClient
import FleetIdentity
import FleetRegistry
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import FleetAPI

/// `GET /fleet/v1/store/backup`: served only where the embedded store is held, one at a time,
/// its snapshot file gone once sent.
@Suite struct FleetAPIBackupTests {
    struct TakeFailed: Error {}

    func app(_ source: StoreBackupSource) -> some ApplicationProtocol {
        let router = Router()
        APIRoutes(registry: Registry(store: InMemoryStore()), configuration: .init(storeBackup: source)).addRoutes(to: router)
        return Application(router: router)
    }

    /// A source whose snapshot is `contents`, written where the route asks.
    func source(_ directory: String, _ contents: String) -> StoreBackupSource {
        .embedded(directory: directory) { path in
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            return StoreBackupFacts(path: path, bytes: Int64(contents.utf8.count), index: 42, keys: 7)
        }
    }

    func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    @Test func aFleetdWithoutTheStoreSaysWhereToGo() async throws {
        try await app(.unavailable("this cluster's store is etcd: back it up with etcdctl snapshot save")).test(.router) { client in
            try await client.execute(uri: "/fleet/v1/store/backup", method: .get) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("etcdctl snapshot save"))
            }
        }
    }

    @Test func theSnapshotIsStreamedWithItsFactsAndThenRemoved() async throws {
        try await withDirectory { directory in
            let contents = String(repeating: "SQLite format 3\u{0}", count: 10_000)
            try await app(source(directory, contents)).test(.router) { client in
                for _ in 0..<2 {  // the second one proves the first let go
                    try await client.execute(uri: "/fleet/v1/store/backup", method: .get) { response in
                        #expect(response.status == .ok)
                        #expect(response.headers[.contentType] == "application/vnd.sqlite3")
                        #expect(response.headers[HTTPField.Name(FleetClient.backupIndexHeader)!] == "42")
                        #expect(response.headers[HTTPField.Name(FleetClient.backupKeysHeader)!] == "7")
                        #expect(String(buffer: response.body) == contents)
                    }
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
            }
        }
    }

    @Test func aSecondBackupWhileOneRunsIsRefused() async throws {
        try await withDirectory { directory in
            let source = source(directory, "x")
            try await app(source).test(.router) { client in
                #expect(source.begin())
                try await client.execute(uri: "/fleet/v1/store/backup", method: .get) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect(String(buffer: response.body).contains("already"))
                }
                source.end()
                try await client.execute(uri: "/fleet/v1/store/backup", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func aFailedSnapshotIsAnErrorAndLetsTheNextOneRun() async throws {
        try await withDirectory { directory in
            let failing = StoreBackupSource.embedded(directory: directory) { _ in throw TakeFailed() }
            try await app(failing).test(.router) { client in
                for _ in 0..<2 {
                    try await client.execute(uri: "/fleet/v1/store/backup", method: .get) { response in
                        #expect(response.status == .internalServerError)
                        #expect(String(buffer: response.body).contains("the backup failed"))
                    }
                }
            }
        }
    }

    @Test func otherMethodsAre405() async throws {
        try await app(.unavailable("no")).test(.router) { client in
            try await client.execute(uri: "/fleet/v1/store/backup", method: .post) { #expect($0.status == .methodNotAllowed) }
        }
    }

    @Test func onlyAnAdminMayTakeABackupOverTLS() {
        let policy = RolePolicy(prefix: "/fleet")
        func denial(_ role: ClusterRole) -> String? {
            policy.denial(for: PeerIdentity(role: role, machineID: role == .machine ? "m1" : nil), method: .get,
                          path: "/fleet/v1/store/backup", query: nil, forwarded: false, engineLeader: nil)
        }
        #expect(denial(.admin) == nil)
        #expect(denial(.machine)?.contains("only an admin") == true)
        #expect(denial(.discoveryReader) != nil)
    }
}
