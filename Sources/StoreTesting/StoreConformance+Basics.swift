import FleetStore
import Testing

/// Reads, writes, conditions, TTLs and watches: the behaviour the rest of fleet relies on,
/// checked on every backend. TTLs are a few seconds so that etcd can wait them out in real time;
/// the other backends move a manual clock (``StoreFixture/advance(seconds:)``).
extension StoreConformance {
    static func setThenGet(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let event = try await store.set("/a/b", "one")
        #expect(event.action == .set)
        let node = try await store.get("/a/b", recursive: false)
        #expect(node.value == "one")
        #expect(node.modifiedIndex == event.index)
        #expect(try await store.currentIndex() == event.index)
    }

    static func missingKeyIsKeyNotFound(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let error = await #expect(throws: StoreError.self) { try await store.get("/nope", recursive: false) }
        #expect(error?.code == .keyNotFound)
    }

    static func createRefusesAnExistingKey(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.create("/k", "1")
        let error = await #expect(throws: StoreError.self) { try await store.create("/k", "2") }
        #expect(error?.code == .nodeExists)
        #expect(try await store.value("/k") == "1")
    }

    /// etcd v2 (issue 12): making an existing directory again is 102 "Not a file" (403), not
    /// "Key already exists"; creating it (prevExist=false) is 105, updating it (prevExist=true) works.
    static func settingAnExistingDirectoryIsNotAFile(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.apply(.set(key: "/d", value: nil, ttl: nil, condition: .none))
        let again = await #expect(throws: StoreError.self) {
            try await store.apply(.set(key: "/d", value: nil, ttl: nil, condition: .none))
        }
        #expect(again?.code == .notAFile)
        let create = await #expect(throws: StoreError.self) {
            try await store.apply(.set(key: "/d", value: nil, ttl: nil, condition: .mustNotExist))
        }
        #expect(create?.code == .nodeExists)
        let update = try await store.apply(.set(key: "/d", value: nil, ttl: nil, condition: .mustExist))
        #expect(update.action == .update && update.node.isDirectory)
    }

    /// etcd v2 walks the path: a value on the way makes a read "Not a directory" (104, 400).
    static func readingBelowAValueIsNotADirectory(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/f", "1")
        let below = await #expect(throws: StoreError.self) { try await store.get("/f/x/y", recursive: false) }
        #expect(below?.code == .notADirectory)
        #expect(below?.cause == "/f")
        let missing = await #expect(throws: StoreError.self) { try await store.get("/g/x", recursive: false) }
        #expect(missing?.code == .keyNotFound)
    }

    static func compareAndSwapByValueAndIndex(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let first = try await store.set("/k", "1")
        let wrong = await #expect(throws: StoreError.self) {
            try await store.set("/k", "2", condition: StoreCondition(prevValue: "x"))
        }
        #expect(wrong?.code == .compareFailed)
        let swapped = try await store.set("/k", "2", condition: StoreCondition(prevIndex: first.index))
        #expect(swapped.action == .compareAndSwap)
        #expect(swapped.prevNode?.value == "1")
        let stale = await #expect(throws: StoreError.self) {
            try await store.set("/k", "3", condition: StoreCondition(prevIndex: first.index))
        }
        #expect(stale?.code == .compareFailed)
        let both = await #expect(throws: StoreError.self) {
            try await store.set("/k", "3", condition: StoreCondition(prevIndex: first.index, prevValue: "x"))
        }
        // etcd v2's cause: one bracket per mismatch, the value's first.
        #expect(both?.cause == "[x != 2] [\(first.index) != \(swapped.index)]")
    }

    static func compareAndDelete(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/k", "mine")
        let wrong = await #expect(throws: StoreError.self) {
            try await store.delete("/k", condition: StoreCondition(prevValue: "theirs"))
        }
        #expect(wrong?.code == .compareFailed)
        let deleted = try await store.delete("/k", condition: StoreCondition(prevValue: "mine"))
        #expect(deleted.action == .compareAndDelete)
        #expect(try await store.getIfPresent("/k") == nil)
    }

    static func directoriesAreImplicitSortedAndGuarded(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/d/b", "2")
        try await store.set("/d/a", "1")
        try await store.set("/d/sub/c", "3")
        let dir = try await store.get("/d", recursive: true)
        #expect(dir.isDirectory)
        #expect(dir.nodes?.map(\.key) == ["/d/a", "/d/b", "/d/sub"])
        #expect(dir.leaves.map(\.value) == ["1", "2", "3"])
        let oneLevel = try await store.get("/d", recursive: false)
        #expect(oneLevel.child("sub")?.nodes == nil)
        let underFile = await #expect(throws: StoreError.self) { try await store.set("/d/a/x", "no") }
        #expect(underFile?.code == .notADirectory)
        let notEmpty = await #expect(throws: StoreError.self) {
            try await store.apply(.delete(key: "/d", directory: true, recursive: false, condition: .none))
        }
        #expect(notEmpty?.code == .directoryNotEmpty)
        try await store.delete("/d", recursive: true)
        #expect(try await store.getIfPresent("/d/sub/c") == nil)
    }

    static func keysCannotClimbOrWriteTheRoot(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let climb = await #expect(throws: StoreError.self) { try await store.set("/a/../../etc", "x") }
        #expect(climb?.code == .invalidKey, "refused before it reaches the backend, also over HTTP")
        let root = await #expect(throws: StoreError.self) { try await store.set("/", "x") }
        #expect(root?.code == .rootReadOnly)
    }

    static func expiredKeysVanishWithAnExpireEvent(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/svc/web/1", "10.0.0.1", ttl: 2)
        let watch = try await store.watch("/svc", recursive: true, fromIndex: nil)
        try await fixture.advance(seconds: 3)
        let events = try await firstEvents(watch, count: 1)
        #expect(events.first?.action == .expire)
        #expect(events.first?.node.key == "/svc/web/1")
        #expect(events.first?.prevNode?.value == "10.0.0.1")
        #expect(try await store.getIfPresent("/svc/web/1") == nil)
    }

    static func refreshKeepsAKeyWithoutWakingWatchers(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/m/1", "up", ttl: 3)
        let watch = try await store.watch("/m", recursive: true, fromIndex: nil)
        try await fixture.advance(seconds: 2)
        try await store.refresh("/m/1", ttl: 3)
        try await fixture.advance(seconds: 2)
        #expect(try await store.value("/m/1") == "up")
        try await store.set("/m/2", "marker")
        let events = try await firstEvents(watch, count: 1)
        #expect(events.map(\.node.key) == ["/m/2"], "the refresh must not reach watchers")
    }

    static func watchReplaysFromAnIndexWithoutLossOrRepeats(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let first = try await store.set("/w/a", "1")
        try await store.set("/other", "x")
        try await store.set("/w/b", "2")
        let watch = try await store.watch("/w", recursive: true, fromIndex: first.index)
        try await store.set("/w/c", "3")
        let events = try await firstEvents(watch, count: 3)
        #expect(events.map(\.node.key) == ["/w/a", "/w/b", "/w/c"])
    }

    static func watchFromBeyondTheHistoryIsIndexCleared(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        for i in 0..<120 { try await store.set("/h/\(i % 5)", "\(i)") }  // history limit is 50
        try await fixture.forgetHistory()
        do {
            let stream = try await store.watch("/h", recursive: true, fromIndex: 1)
            for try await _ in stream {}
            Issue.record("watch from index 1 should have failed")
        } catch let error as StoreError {
            #expect(error.code == .indexCleared)
        }
    }

    static func deletingADirectoryReachesWatchersBelowIt(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/p/q/r", "1")
        let watch = try await store.watch("/p/q/r", recursive: false, fromIndex: nil)
        let deleted = try await store.delete("/p", recursive: true)
        let events = try await firstEvents(watch, count: 1)
        #expect(events.first?.action == .delete)
        #expect(events.first?.index == deleted.index)
        // v2 reports the directory; etcd's flat keyspace reports each key below it.
        #expect(events.first?.node.key == (fixture.reportsEachKeyOfADeletedDirectory ? "/p/q/r" : "/p"))
    }

    static func inOrderKeysAreNamedByIndex(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let a = try await store.apply(.createInOrder(key: "/queue", value: "a", ttl: nil))
        let b = try await store.apply(.createInOrder(key: "/queue", value: "b", ttl: nil))
        #expect(a.node.key.count == "/queue/".count + 20)
        #expect(a.node.key < b.node.key)
        let queue = try await store.get("/queue", recursive: true)
        #expect(queue.nodes?.map(\.value) == ["a", "b"])
    }

    static func valuesSurviveAnyBytesOfText(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let value = "a=b&c d+e%20\n[Unit]\nDescription=ünïcødé \"quoted\""
        try await store.set("/odd/web@1.service", value)
        #expect(try await store.value("/odd/web@1.service") == value)
    }
}
