@testable import FleetDNS
import FleetStore
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct ZoneFeedTests {
    let logger = Logger(label: "test")

    /// Runs `feed` while `body` runs, then cancels it.
    func withFeed(_ feed: ZoneFeed, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            try await body()
            group.cancelAll()
        }
    }

    @Test func loadsThenFollowsTheWatch() async throws {
        let store = InMemoryStore()
        let web1 = Fixture.record("web", "1")
        try await store.set(Fixture.key(web1), web1.encoded())
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
        try await withFeed(feed) {
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).addresses == ["10.0.0.1"] }

            let web2 = Fixture.record("web", "2", machine: "node2", address: "10.0.0.2")
            try await store.set(Fixture.key(web2), web2.encoded())
            try await publisher.waitUntil { try Set(ask($0, "web.fleet.", .a).addresses) == ["10.0.0.1", "10.0.0.2"] }

            try await store.delete(Fixture.key(web1))
            try await publisher.waitUntil { try ask($0, "1.web.fleet.", .a).rcode == .nameError }
            #expect(try ask(publisher.current, "web.fleet.", .a).addresses == ["10.0.0.2"])

            var sick = web2
            sick.healthy = false
            try await store.set(Fixture.key(sick), sick.encoded())
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).rcode == .nameError }

            try await store.set(Fixture.key(web2), web2.encoded())
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).rcode == .noError }
            try await store.delete("/discovery/web", recursive: true)
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).rcode == .nameError }
        }
    }

    @Test func expiredRecordsLeave() async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000))
        let store = InMemoryStore(now: { clock.withLock { $0 } })
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
        try await withFeed(feed) {
            let web1 = Fixture.record("web", "1")
            try await store.set(Fixture.key(web1), web1.encoded(), ttl: 30)
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).rcode == .noError }
            clock.withLock { $0 += 31 }
            await store.expireDueKeys()
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).rcode == .nameError }
        }
    }

    @Test func valuesThatAreNotRecordsAreIgnored() async throws {
        let store = InMemoryStore()
        try await store.set("/discovery/web/bad", "{not json")
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
        try await withFeed(feed) {
            try await publisher.waitUntil { $0.isReady }
            try await store.set("/discovery/web/worse", "[]")
            let web1 = Fixture.record("web", "1")
            try await store.set(Fixture.key(web1), web1.encoded())
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).addresses == ["10.0.0.1"] }
        }
    }

    @Test func aWatchTooFarBehindReloadsEverything() async throws {
        let inner = InMemoryStore(historyLimit: 2)
        // The first watch misses writes and reports that the history was cleared.
        let store = FlakyStore(inner: inner) {
            for i in 1...5 {
                let record = Fixture.record("web", "\(i)", machine: "node\(i)", address: "10.0.0.\(i)")
                try await inner.set(Fixture.key(record), record.encoded())
            }
            throw StoreError(.indexCleared, "the requested history has been cleared", index: await inner.currentIndex())
        }
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
        try await withFeed(feed) {
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a, transport: .tcp).answers.count == 5 }
            #expect(store.watchCalls >= 2)
        }
    }

    /// A burst (a start of many instances of one service) is applied in fewer, larger builds:
    /// the pacer here spaces every build by its maximum, 50 ms, so a steady burst makes about one
    /// view per 50 ms (without pacing, one per change: 200). The bound is taken from the burst's
    /// measured length, so it holds at any pace of the writer.
    @Test func aBurstIsBuiltInSpacedSteps() async throws {
        let store = InMemoryStore()
        let publisher = ZonePublisher(apex: "fleet.")
        let pacing = ZoneBuildPacer(threshold: 0, gapPerRecord: .seconds(1), maxGap: .milliseconds(50))
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, prefix: "/discovery",
                            retryDelay: .milliseconds(100), pacing: pacing, logger: logger)
        let published = Mutex(0)
        try await withFeed(feed) {
            try await publisher.waitUntil { $0.isReady }
            let token = publisher.subscribe { _ in published.withLock { $0 += 1 } }.token
            defer { publisher.unsubscribe(token) }
            let start = ContinuousClock.now
            for i in 1...200 {
                let record = Fixture.record("web", "\(i)", machine: "node\(i % 3)", address: "10.0.0.\(i % 3 + 1)")
                try await store.set(Fixture.key(record), record.encoded())
                try await Task.sleep(for: .milliseconds(1))  // the pace of a burst, not a wait for an event
            }
            let length = ContinuousClock.now - start
            try await publisher.waitUntil { try ask($0, "web.fleet.", .txt, transport: .tcp).answers.count == 200 }
            let views = published.withLock { $0 }
            let bound = Int(length / .milliseconds(40)) + 3
            #expect(views <= bound, "\(views) views for a burst of \(length); at most \(bound) expected")
        }
    }

    @Test func otherWatchFailuresResumeFromTheLastIndex() async throws {
        let inner = InMemoryStore()
        let store = FlakyStore(inner: inner) {
            let record = Fixture.record("web", "1")
            try await inner.set(Fixture.key(record), record.encoded())
            throw CocoaError(.fileReadUnknown)  // any transport failure
        }
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher,
                            retryDelay: .milliseconds(5), logger: logger)
        try await withFeed(feed) {
            try await publisher.waitUntil { try ask($0, "web.fleet.", .a).addresses == ["10.0.0.1"] }
            #expect(store.getCalls == 1, "resumed the watch without reading everything again")
        }
    }
}

extension ZonePublisher {
    /// Returns once a published view satisfies `condition` (the current one included); fails
    /// after `timeout`. Driven by publications, not by polling.
    func waitUntil(timeout: Duration = .seconds(10), _ condition: @escaping @Sendable (ZoneView) throws -> Bool) async throws {
        let (views, continuation) = AsyncStream<ZoneView>.makeStream()
        let (current, token) = subscribe { continuation.yield($0) }
        defer { unsubscribe(token) }
        if try condition(current) { return }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await view in views where try condition(view) { return true }
                return false
            }
            group.addTask {
                try await Task.sleep(for: timeout)  // a deadline, not a wait for the event
                return false
            }
            let met = try await group.next() ?? false
            group.cancelAll()
            continuation.finish()
            if !met { Issue.record("condition not met within \(timeout)") }
        }
    }
}

/// A store whose first watch runs `firstWatch` (which writes behind the watcher's back) and
/// fails with whatever it throws; later calls go to the inner store.
final class FlakyStore: KeyValueStore {
    let inner: InMemoryStore
    let firstWatch: @Sendable () async throws -> Void
    private let calls = Mutex((watch: 0, get: 0))

    init(inner: InMemoryStore, firstWatch: @escaping @Sendable () async throws -> Void) {
        self.inner = inner
        self.firstWatch = firstWatch
    }

    var watchCalls: Int { calls.withLock { $0.watch } }
    var getCalls: Int { calls.withLock { $0.get } }

    func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        calls.withLock { $0.get += 1 }
        return try await inner.get(key, recursive: recursive)
    }

    func apply(_ write: StoreWrite) async throws -> StoreEvent { try await inner.apply(write) }

    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error> {
        let first = calls.withLock { calls in
            calls.watch += 1
            return calls.watch == 1
        }
        if first { try await firstWatch() }
        return try await inner.watch(key, recursive: recursive, fromIndex: fromIndex)
    }

    func currentIndex() async throws -> UInt64 { await inner.currentIndex() }
}
