import FleetStore
import FleetStoreEmbedded
import FleetStoreTesting
import Foundation
import Synchronization
import Testing

/// Online backup (`EmbeddedStore.backup(to:)`, behind `fleetctl backup`) and offline restore
/// (`StoreRestore`, behind `fleetd restore`).
@Suite struct EmbeddedStoreBackupTests {
    func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func aBackupTakenWhileWritesContinueHoldsEveryAcknowledgedKey() async throws {
        try await withTemporaryDirectory { directory in
            let store = try EmbeddedStore(path: directory + "/store.db")
            let acknowledged = Counter()
            // Writes keep coming from four lanes while the backups are taken (until told to stop,
            // at most 2000 each).
            let writers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<4 {
                        group.addTask {
                            for i in 0..<2000 where !acknowledged.stopped {
                                try await store.set("/k/\(lane)/\(i)", String(repeating: "v", count: 200))
                                acknowledged.add("/k/\(lane)/\(i)")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var backups: [(path: String, keys: Set<String>, facts: StoreBackupFacts)] = []
            for round in 0..<4 {
                // Some writes of the test's own between backups, so each round has new keys.
                for i in 0..<50 {
                    try await store.set("/k/main/\(round)-\(i)", "v")
                    acknowledged.add("/k/main/\(round)-\(i)")
                }
                let before = acknowledged.keys
                let path = "\(directory)/backup-\(round).db"
                let facts = try await store.backup(to: path)
                backups.append((path, before, facts))
            }
            acknowledged.stop()
            try await writers.value
            await store.close()
            for backup in backups {
                #expect(backup.facts.path == backup.path)
                #expect(try mode(backup.path) == 0o600)
                #expect(!exists(backup.path + ".partial"))
                #expect(!exists(backup.path + "-wal"), "a backup is one self-contained file")
                #expect(backup.facts.bytes == Int64(try Data(contentsOf: URL(fileURLWithPath: backup.path)).count))
                // Opened as a store it passes the open's integrity check and holds every key
                // acknowledged before the backup was asked for.
                let copy = try EmbeddedStore(path: backup.path)
                #expect(try await copy.currentIndex() == backup.facts.index)
                let held = try await copy.get("/k", recursive: true)
                let keys = Set(held.nodes?.flatMap { $0.nodes ?? [] }.map(\.key) ?? [])
                #expect(keys.isSuperset(of: backup.keys), "\(backup.keys.subtracting(keys).count) acknowledged keys missing")
                #expect(keys.count == backup.facts.keys)
                await copy.close()
            }
        }
    }

    @Test func aBackupOfAClosedStoreIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let store = try EmbeddedStore(path: directory + "/store.db")
            await store.close()
            await #expect(throws: StoreError.self) { try await store.backup(to: directory + "/b.db") }
            #expect(!exists(directory + "/b.db"))
        }
    }

    @Test func aRestoreRefusesAStoreInUse() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let store = try EmbeddedStore(path: path)
            try await store.set("/a", "1")
            let backup = try await store.backup(to: directory + "/backup.db")
            let error = #expect(throws: StoreRestoreError.self) { try StoreRestore.restore(from: backup.path, to: path) }
            #expect(error?.code == .inUse)
            #expect(error?.message.contains("stop fleetd first") == true)
            // Nothing moved: the running store still has its file and keeps working.
            let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(!entries.contains { $0.contains("before-restore") || $0.contains("partial") })
            try await store.set("/b", "2")
            await store.close()
        }
    }

    @Test(arguments: ["garbage", "empty", "missing"])
    func aRestoreRefusesAFileThatIsNotAFleetStore(kind: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let store = try EmbeddedStore(path: path)
            try await store.set("/a", "1")
            await store.close()
            let candidate = directory + "/candidate.db"
            switch kind {
            case "garbage": try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: candidate))
            case "empty": try Data().write(to: URL(fileURLWithPath: candidate))
            default: break
            }
            let error = #expect(throws: StoreRestoreError.self) { try StoreRestore.restore(from: candidate, to: path) }
            #expect(error?.code == (kind == "missing" ? .fileSystem : .notAFleetStore))
            #expect(error?.message.contains(candidate) == true)
            let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(!entries.contains { $0.contains("before-restore") || $0.contains("partial") })
            let reopened = try EmbeddedStore(path: path)
            #expect(try await reopened.value("/a") == "1", "the store in place is untouched")
            await reopened.close()
        }
    }

    @Test func aRoundTripRestoresTheBackupAndKeepsTheReplacedStoreAside() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let store = try EmbeddedStore(path: path)
            try await store.set("/fleet/job/web.service/object", "[Unit]\nDescription=web")
            try await store.set("/fleet/cluster", "c1")
            let snapshot = try await store.get("/", recursive: true)
            let backup = try await store.backup(to: directory + "/backup.db")
            #expect(backup.keys == 2)
            // Changes after the backup: they are what a restore takes back.
            try await store.set("/fleet/job/db.service/object", "[Unit]\nDescription=db")
            try await store.delete("/fleet/cluster")
            let replacedIndex = try await store.currentIndex()
            let watcherIndex = replacedIndex  // where another machine's watch stands
            await store.close()

            let outcome = try StoreRestore.restore(from: backup.path, to: path, now: Date(timeIntervalSince1970: 1_796_464_800))
            #expect(outcome.backupIndex == backup.index)
            #expect(outcome.installed.index == replacedIndex + StoreRestore.indexBump)
            #expect(outcome.installed.keys == 2)
            #expect(outcome.movedAside == path + ".before-restore-20261205T100000Z")
            #expect(try mode(path) == 0o600)
            #expect(exists(backup.path), "the backup itself is left as it was")

            let restored = try EmbeddedStore(path: path)
            #expect(try await restored.get("/", recursive: true).nodes == snapshot.nodes)
            #expect(try await restored.currentIndex() == outcome.installed.index)
            // A watch from where the replaced store stood learns that it must read afresh.
            let cleared = await #expect(throws: StoreError.self) {
                _ = try await firstEvents(try await restored.watch("/fleet", recursive: true, fromIndex: watcherIndex + 1), count: 1)
            }
            #expect(cleared?.code == .indexCleared)
            let next = try await restored.set("/fleet/after", "x")
            #expect(next.index == outcome.installed.index + 1)
            await restored.close()

            // The replaced store is intact under its new name, with the changes made after the backup.
            let aside = try EmbeddedStore(path: try #require(outcome.movedAside))
            #expect(try await aside.value("/fleet/job/db.service/object") == "[Unit]\nDescription=db")
            #expect(try await aside.currentIndex() == replacedIndex)
            await aside.close()
        }
    }

    @Test func aRestoreWithoutAStoreInPlaceInstallsTheBackup() async throws {
        try await withTemporaryDirectory { directory in
            let store = try EmbeddedStore(path: directory + "/old.db")
            try await store.set("/fleet/cluster", "c1")
            let backup = try await store.backup(to: directory + "/backup.db")
            await store.close()
            let path = directory + "/new/store.db"
            try FileManager.default.createDirectory(atPath: directory + "/new", withIntermediateDirectories: true)
            let outcome = try StoreRestore.restore(from: backup.path, to: path)
            #expect(outcome.movedAside == nil)
            #expect(outcome.installed.index == backup.index + StoreRestore.indexBump)
            let restored = try EmbeddedStore(path: path)
            #expect(try await restored.value("/fleet/cluster") == "c1")
            await restored.close()
        }
    }
}

/// Keys acknowledged so far, shared by the writer tasks and the test, and when to stop writing.
private final class Counter: Sendable {
    private let state = Mutex<(keys: Set<String>, stopped: Bool)>(([], false))
    func add(_ key: String) { state.withLock { _ = $0.keys.insert(key) } }
    var keys: Set<String> { state.withLock { $0.keys } }
    var stopped: Bool { state.withLock { $0.stopped } }
    func stop() { state.withLock { $0.stopped = true } }
}
