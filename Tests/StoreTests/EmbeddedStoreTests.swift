import FleetStore
import FleetStoreEmbedded
import FleetStoreTesting
import Foundation
import Testing

/// What only the embedded store promises: it survives a restart, refuses bad files clearly, and
/// stays consistent when writes fail. (Its ordinary semantics are the conformance suite's.)
@Suite struct EmbeddedStoreTests {
    /// Opens the store at `path` on `time`, runs `body`, and closes it again whatever happens.
    func withStore<T>(_ path: String, _ time: ManualTime, historyLimit: Int = 1000, pageLimit: Int? = nil,
                      _ body: (EmbeddedStore) async throws -> T) async throws -> T {
        let store = try EmbeddedStore(path: path, historyLimit: historyLimit, now: { time.now }, pageLimit: pageLimit)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    @Test func reopeningRestoresEveryKeyIndexAndDeadline() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let (before, index) = try await withStore(path, time) { store async throws in
                try await store.set("/fleet/job/web.service/object", "[Unit]\nDescription=web")
                try await store.set("/fleet/machines/m1", "10.0.0.1", ttl: 30)
                _ = try await store.apply(.set(key: "/empty", value: nil, ttl: 600, condition: .none))
                _ = try await store.apply(.createInOrder(key: "/queue", value: "a", ttl: nil))
                try await store.set("/gone", "x")
                try await store.delete("/gone")
                try await store.set("/fleet/job/web.service/object", "[Unit]\nDescription=web 2",
                                    condition: StoreCondition(prevValue: "[Unit]\nDescription=web"))
                return (try await store.get("/", recursive: true), try await store.currentIndex())
            }
            try await withStore(path, time) { store async throws in
                #expect(try await store.get("/", recursive: true) == before)
                #expect(try await store.currentIndex() == index)
                #expect(try await store.get("/fleet/machines/m1", recursive: false).expiration
                        == time.now.addingTimeInterval(30))
                let next = try await store.apply(.createInOrder(key: "/queue", value: "b", ttl: nil))
                #expect(next.index == index + 1, "the index continues where it stopped")
                #expect(try await store.get("/queue", recursive: true).nodes?.map(\.value) == ["a", "b"])
            }
        }
    }

    @Test func theIndexNeverGoesBackwardsAfterDeletes() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            try await withStore(path, time) { store async throws in
                try await store.set("/a", "1")
                try await store.set("/b", "2")
                try await store.delete("/a")
                try await store.delete("/b")
                #expect(try await store.currentIndex() == 4)
            }
            try await withStore(path, time) { store async throws in
                #expect(try await store.currentIndex() == 4)
                #expect(try await store.set("/c", "3").index == 5)
            }
        }
    }

    @Test func keysWhoseTTLRanOutWhileClosedExpireOnOpen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let index = try await withStore(path, time) { store async throws in
                try await store.set("/svc/web/1", "10.0.0.1:80", ttl: 30)
                try await store.set("/svc/web/2", "10.0.0.2:80", ttl: 300)
                return try await store.currentIndex()
            }
            time.advance(seconds: 31)
            try await withStore(path, time) { store async throws in
                #expect(try await store.currentIndex() == index + 1, "the expiry is a change of its own")
                #expect(try await store.getIfPresent("/svc/web/1") == nil)
                #expect(try await store.value("/svc/web/2") == "10.0.0.2:80")
                // A watcher that saw everything before the restart resumes and hears the expiry.
                let watch = try await store.watch("/svc", recursive: true, fromIndex: index + 1)
                let events = try await firstEvents(watch, count: 1)
                #expect(events.first?.action == .expire)
                #expect(events.first?.node.key == "/svc/web/1")
                #expect(events.first?.prevNode?.value == "10.0.0.1:80")
                #expect(events.first?.index == index + 1)
            }
            // The expiry itself was stored: a third open has nothing left to expire.
            try await withStore(path, time) { store async throws in
                #expect(try await store.currentIndex() == index + 1)
            }
        }
    }

    @Test func aWatchFromBeforeARestartReplaysWhatItMissed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let before = try await withStore(path, time) { store async throws in
                [try await store.set("/w/a", "1", ttl: 60),
                 try await store.set("/other", "x"),
                 try await store.delete("/w/a"),
                 try await store.apply(.set(key: "/w/d", value: nil, ttl: nil, condition: .none)),
                 try await store.set("/w/b", "2", condition: .mustNotExist)]
            }
            try await withStore(path, time) { store async throws in
                let watch = try await store.watch("/w", recursive: true, fromIndex: 1)
                let after = try await store.set("/w/c", "3")
                let events = try await firstEvents(watch, count: 5)
                // Exactly the events the writes returned, read back from disk, then the new one.
                #expect(events == [before[0], before[2], before[3], before[4], after])
                #expect(events.map(\.index) == [1, 3, 4, 5, 6])
            }
        }
    }

    @Test func aWatchFromBeforeTheKeptHistoryIsIndexClearedAfterARestart() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            try await withStore(path, time, historyLimit: 5) { store async throws in
                for i in 1...23 { try await store.set("/h/\(i % 3)", "\(i)") }
            }
            try await withStore(path, time, historyLimit: 5) { store async throws in
                do {
                    let stream = try await store.watch("/h", recursive: true, fromIndex: 18)
                    for try await _ in stream {}
                    Issue.record("a watch from index 18 should have been refused")
                } catch let error as StoreError {
                    #expect(error.code == .indexCleared)
                }
                let stream = try await store.watch("/h", recursive: true, fromIndex: 19)
                #expect(try await firstEvents(stream, count: 5).map(\.index) == [19, 20, 21, 22, 23])
            }
        }
    }

    @Test func concurrentWritersShareCommitsAndEveryAckSurvives() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let (clients, writes) = (64, 10)
            try await withStore(path, time) { store async throws in
                let watch = try await store.watch("/c", recursive: true, fromIndex: nil)
                let indexes = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                    for client in 0..<clients {
                        group.addTask {
                            var indexes: [UInt64] = []
                            for write in 1...writes {
                                indexes.append(try await store.set("/c/\(client)", "\(write)").index)
                            }
                            return indexes
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                #expect(indexes.sorted() == Array(1...UInt64(clients * writes)))
                let events = try await firstEvents(watch, count: clients * writes)
                #expect(events.map(\.index) == Array(1...UInt64(clients * writes)), "watchers hear index order")
            }
            try await withStore(path, time) { store async throws in
                #expect(try await store.currentIndex() == UInt64(clients * writes))
                for client in 0..<clients {
                    #expect(try await store.value("/c/\(client)") == "\(writes)")
                }
            }
        }
    }

    @Test func aRefreshIsDurableToo() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            try await withStore(path, time) { store async throws in
                try await store.set("/m/1", "up", ttl: 10)
                time.advance(seconds: 8)
                try await store.refresh("/m/1", ttl: 10)
            }
            time.advance(seconds: 8)
            try await withStore(path, time) { store async throws in
                #expect(try await store.value("/m/1") == "up")
                #expect(try await store.currentIndex() == 2)
            }
        }
    }

    /// run() sleeps until the earliest deadline (10 s with none); a write with an earlier one
    /// must wake it, or the key below would outlive its TTL by seconds. On the wall clock.
    @Test func runExpiresKeysOnTimeAndClosesTheStoreWhenItEnds() async throws {
        try await withTemporaryDirectory { directory in
            let store = try EmbeddedStore(path: directory + "/store.db")
            let watch = try await store.watch("/svc", recursive: true, fromIndex: nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                try await store.set("/other", "x")  // a write without TTL while run() sleeps
                let written = ContinuousClock.now
                try await store.set("/svc/web/1", "10.0.0.1", ttl: 1)
                let events = try await firstEvents(watch, count: 2, within: 8)
                #expect(events.last?.action == .expire)
                // Without the wake-up it would wait out run()'s 10 s sleep; the margin is for a busy machine.
                #expect(ContinuousClock.now - written < .seconds(6), "expired within its TTL and a margin")
                let cancelled = ContinuousClock.now
                group.cancelAll()
                try await group.waitForAll()
                #expect(ContinuousClock.now - cancelled < .seconds(6), "run() returns when cancelled, not at its next wake-up")
            }
            let error = await #expect(throws: StoreError.self) { try await store.currentIndex() }
            #expect(error?.code == .unavailable)
            #expect(error?.cause.contains("closed") == true)
        }
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: StoreError.self) { try EmbeddedStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.cause.contains("'\(path)'") == true)
            #expect(error?.cause.contains("move it aside") == true)
        }
    }

    @Test func aDamagedStoreIsAClearError() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            try await withStore(path, time) { store async throws in
                for i in 0..<200 { try await store.set("/k/\(i)", String(repeating: "v", count: 100)) }
            }
            // Scribble over the pages after the header: the tables' b-trees.
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seek(toOffset: 4096)
            handle.write(Data((0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
            try handle.close()
            let error = #expect(throws: StoreError.self) { try EmbeddedStore(path: path) }
            #expect(error?.code == .unavailable)
            #expect(error?.cause.contains("'\(path)'") == true)
        }
    }

    @Test func aMissingDirectoryIsAClearError() async throws {
        let path = "/nonexistent-\(UUID().uuidString)/store.db"
        let error = #expect(throws: StoreError.self) { try EmbeddedStore(path: path) }
        #expect(error?.code == .unavailable)
        #expect(error?.cause.contains("'\(path)'") == true)
        #expect(error?.cause.contains("directory exists") == true)
    }

    @Test func aSecondStoreOnTheSameFileIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let first = try EmbeddedStore(path: path)
            let error = #expect(throws: StoreError.self) { try EmbeddedStore(path: path) }
            #expect(error?.cause.contains("another process") == true)
            await first.close()
            // Once the first one has closed, the file opens again.
            let second = try EmbeddedStore(path: path)
            await second.close()
        }
    }

    @Test func aClosedStoreRefusesCalls() async throws {
        try await withTemporaryDirectory { directory in
            let store = try EmbeddedStore(path: directory + "/store.db")
            try await store.set("/a", "1")
            await store.close()
            let error = await #expect(throws: StoreError.self) { try await store.set("/a", "2") }
            #expect(error?.code == .unavailable)
            await #expect(throws: StoreError.self) { try await store.get("/a", recursive: false) }
        }
    }

    /// A full disk fails the writes that do not fit; every write that was acknowledged is there
    /// after a reopen, none that failed is, and the store keeps working once there is room.
    @Test func aFullDiskFailsWritesWithoutLosingOrInventingAny() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.db"
            let time = ManualTime()
            let big = String(repeating: "x", count: 3000)
            let (acked, index) = try await withStore(path, time, pageLimit: 40) { store async throws in
                let watch = try await store.watch("/full", recursive: true, fromIndex: nil)
                let results = await withTaskGroup(of: (Int, UInt64?).self) { group in
                    for client in 0..<48 {
                        group.addTask { (client, try? await store.set("/full/\(client)", big).index) }
                    }
                    return await group.reduce(into: [Int: UInt64]()) { $0[$1.0] = $1.1 }
                }
                let acked = results.compactMapValues { $0 }
                #expect(acked.count < 48, "the page limit should have refused some writes")
                try #require(!acked.isEmpty, "the first writes fit")
                // Watchers heard exactly the acknowledged writes, in index order.
                let events = try await firstEvents(watch, count: acked.count)
                #expect(events.map(\.index) == acked.values.sorted())
                // Committed state only: indexes are dense, failed writes left no trace.
                let index = try await store.currentIndex()
                #expect(index == UInt64(acked.count))
                // Room again: delete what was written, then a small write succeeds.
                for client in acked.keys { try await store.delete("/full/\(client)") }
                try await store.set("/after", "ok")
                return (acked, index)
            }
            try await withStore(path, time) { store async throws in
                #expect(try await store.currentIndex() == index + UInt64(acked.count) + 1)
                #expect(try await store.value("/after") == "ok")
                let stream = try await store.watch("/full", recursive: true, fromIndex: 1)
                let events = try await firstEvents(stream, count: acked.count)
                #expect(Set(events.map(\.node.key)) == Set(acked.keys.map { "/full/\($0)" }))
            }
        }
    }
}
