import FleetStore
import FleetStoreEmbedded
import Foundation
import Testing

/// ``WatchLimits`` on the stores that keep their own watchers: a slow watch is ended with
/// `indexCleared` instead of buffering without bound, and watches beyond the cap are refused.
@Suite struct WatchLimitsTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case inMemory, embedded
        var testDescription: String { rawValue }

        func with(_ limits: WatchLimits,
                  _ body: @Sendable (any KeyValueStore, @Sendable () async -> Int) async throws -> Void) async throws {
            switch self {
            case .inMemory:
                let store = InMemoryStore(watchLimits: limits)
                try await body(store, { await store.watcherCount })
            case .embedded:
                try await withTemporaryDirectory { directory in
                    let store = try EmbeddedStore(path: directory + "/store.db", watchLimits: limits)
                    do {
                        try await body(store, { await store.watcherCount })
                    } catch {
                        await store.close()
                        throw error
                    }
                    await store.close()
                }
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func aWatchThatFallsBehindEndsWithIndexCleared(_ backend: Backend) async throws {
        try await backend.with(WatchLimits(maxPendingEvents: 5)) { store, watcherCount in
            let watch = try await store.watch("/slow", recursive: true, fromIndex: nil)
            for i in 0..<20 { try await store.set("/slow/\(i)", "\(i)") }
            #expect(await watcherCount() == 0, "a watch past its buffer should be dropped at once")
            var received: [String] = []
            do {
                for try await event in watch { received.append(event.node.key) }
                Issue.record("the watch should end with an error")
            } catch let error as StoreError {
                #expect(error.code == .indexCleared)
                #expect(error.cause.contains("behind"), "\(error.cause)")
            }
            #expect(received == (0..<5).map { "/slow/\($0)" }, "the buffered events come first, in order")
        }
    }

    @Test(arguments: Backend.allCases)
    func aReplayLargerThanTheBufferEndsWithIndexCleared(_ backend: Backend) async throws {
        try await backend.with(WatchLimits(maxPendingEvents: 3)) { store, watcherCount in
            let first = try await store.set("/r/0", "0")
            for i in 1..<10 { try await store.set("/r/\(i)", "\(i)") }
            let watch = try await store.watch("/r", recursive: true, fromIndex: first.index)
            var count = 0
            await #expect(throws: StoreError.self) { for try await _ in watch { count += 1 } }
            #expect(count == 3)
            #expect(await watcherCount() == 0)
        }
    }

    @Test(arguments: Backend.allCases)
    func watchesBeyondTheCapAreRefusedUntilOneEnds(_ backend: Backend) async throws {
        try await backend.with(WatchLimits(maxWatchers: 2)) { store, watcherCount in
            var first: AsyncThrowingStream<StoreEvent, any Error>? = try await store.watch("/a", recursive: false, fromIndex: nil)
            let second = try await store.watch("/b", recursive: false, fromIndex: nil)
            do {
                _ = try await store.watch("/c", recursive: false, fromIndex: nil)
                Issue.record("a third watch should be refused")
            } catch let error as StoreError {
                #expect(error.code == .tooManyWatchers)
                #expect(error.code.httpStatus == 503)
            }
            #expect(first != nil)
            first = nil  // dropping the stream ends the watch
            let deadline = ContinuousClock.now + .seconds(5)
            while await watcherCount() > 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await watcherCount() == 1, "a dropped watch should leave the store")
            _ = try await store.watch("/c", recursive: false, fromIndex: nil)
            _ = second
        }
    }
}
