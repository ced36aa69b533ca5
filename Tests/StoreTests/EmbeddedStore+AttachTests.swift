import CSQLite
import FleetStore
import FleetStoreEmbedded
import FleetStoreTesting
import Foundation
import Testing

/// Attached keys on disk (issue 16): the owner of each key is stored with it, so a restart of
/// the fleetd that holds the store keeps unit states tied to their machines, and a file from
/// before attached keys (schema 1) is brought forward when opened.
extension EmbeddedStoreTests {
    @Test func attachmentsSurviveARestartAndGoWithAnOwnerThatExpiredMeanwhile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db", time = ManualTime()
            try await withStore(path, time) { store async throws in
                try await store.set("/m/1", "up", ttl: 30)
                try await store.set("/m/2", "up", ttl: 300)
                try await store.attach("/s/web1", "active", to: "/m/1")
                try await store.attach("/s/web2", "active", to: "/m/2")
            }
            try await withStore(path, time) { store async throws in
                // Still attached after the restart: deleting the owner takes the key along.
                try await store.delete("/m/2")
                #expect(try await store.getIfPresent("/s/web2") == nil)
                #expect(try await store.value("/s/web1") == "active")
            }
            time.advance(seconds: 31)
            try await withStore(path, time) { store async throws in
                #expect(try await store.getIfPresent("/m/1") == nil)
                #expect(try await store.getIfPresent("/s/web1") == nil, "an owner that expired while closed takes its keys")
            }
        }
    }

    @Test func aSchemaOneFileIsBroughtForward() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db", time = ManualTime()
            try await withStore(path, time) { store async throws in
                try await store.set("/fleet/job/web.service/object", "[Service]")
                try await store.set("/m/1", "up", ttl: 30)
            }
            // What fleetd before attached keys left: no owner column, schema version 1.
            try execute(path, "ALTER TABLE nodes DROP COLUMN owner; PRAGMA user_version = 1;")
            #expect(try userVersion(path) == 1)
            try await withStore(path, time) { store async throws in
                #expect(try await store.value("/fleet/job/web.service/object") == "[Service]")
                try await store.attach("/s/web1", "active", to: "/m/1")
            }
            #expect(try userVersion(path) == 2)
            try await withStore(path, time) { store async throws in
                try await store.delete("/m/1")
                #expect(try await store.getIfPresent("/s/web1") == nil, "the owner was stored in the new column")
            }
        }
    }

    struct SQLFailed: Error { var message: String }

    func execute(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw SQLFailed(message: "open \(path)") }
        defer { sqlite3_close(db) }
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw SQLFailed(message: String(cString: sqlite3_errmsg(db)))
        }
    }

    func userVersion(_ path: String) throws -> Int64 {
        var db: OpaquePointer?, statement: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw SQLFailed(message: "open \(path)") }
        defer { sqlite3_close(db) }
        guard sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nil) == SQLITE_OK else {
            throw SQLFailed(message: String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw SQLFailed(message: "no user_version") }
        return sqlite3_column_int64(statement, 0)
    }
}
