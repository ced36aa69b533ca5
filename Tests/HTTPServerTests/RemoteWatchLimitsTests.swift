import FleetHTTPServer
import FleetRemoteStore
import FleetStore
import FleetStoreHTTP
import Testing

/// ``WatchLimits`` on `RemoteStore`, whose watches are requests to another server.
@Suite struct RemoteWatchLimitsTests {
    @Test func watchesBeyondTheCapAreRefusedWithoutARequestAndCountAgainWhenTheyEnd() async throws {
        let backing = InMemoryStore()
        try await withLimitedKeysServer(backing, limits: ListenerLimits()) { port, _ in
            let remote = RemoteStore(url: "http://127.0.0.1:\(port)", watchLimits: WatchLimits(maxWatchers: 1))
            var first: AsyncThrowingStream<StoreEvent, any Error>? = try await remote.watch("/a", recursive: false, fromIndex: nil)
            await #expect(throws: StoreError(.tooManyWatchers, "this store already serves 1 watches; retry later")) {
                _ = try await remote.watch("/b", recursive: false, fromIndex: nil)
            }
            #expect(await backing.watcherCount == 1, "the refused watch must not reach the server")
            #expect(first != nil)
            first = nil
            await eventually("the ended watch never gave its place back") { remote.watches.count == 0 }
            _ = try await remote.watch("/b", recursive: false, fromIndex: nil)
        }
    }

    @Test func aRemoteWatchThatFallsBehindEndsWithIndexCleared() async throws {
        let backing = InMemoryStore()
        try await withLimitedKeysServer(backing, limits: ListenerLimits()) { port, _ in
            let remote = RemoteStore(url: "http://127.0.0.1:\(port)", watchLimits: WatchLimits(maxPendingEvents: 3))
            let watch = try await remote.watch("/slow", recursive: true, fromIndex: nil)
            for i in 0..<10 { try await backing.set("/slow/\(i)", "\(i)") }
            await eventually("the reader never noticed it was behind") { remote.watches.count == 0 }
            var received = 0
            await #expect(throws: StoreError.self) { for try await _ in watch { received += 1 } }
            #expect(received == 3)
        }
    }
}
