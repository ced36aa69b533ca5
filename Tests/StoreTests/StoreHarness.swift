import FleetStore
import FleetStoreHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// A wall clock that only moves when a test says so.
final class ManualTime: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// The backends the conformance suite runs against.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case inMemory
    /// An InMemoryStore served by the keys API and reached through RemoteStore over real HTTP.
    case remoteOverHTTP

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh store of this kind; `backing` is the in-memory store behind it
    /// (to expire keys on the manual clock).
    func with(_ body: @Sendable (any KeyValueStore, InMemoryStore, ManualTime) async throws -> Void) async throws {
        let time = ManualTime()
        let backing = InMemoryStore(historyLimit: 50, now: { time.now })
        switch self {
        case .inMemory:
            try await body(backing, backing, time)
        case .remoteOverHTTP:
            try await withKeysServer(backing) { url in
                try await body(RemoteStore(url: url), backing, time)
            }
        }
    }
}

/// Serves `store` on a loopback port chosen by the kernel for the duration of `body`.
func withKeysServer(_ store: any KeyValueStore, _ body: @Sendable (String) async throws -> Void) async throws {
    let router = Router()
    KeysAPI(store: store, clientURLs: []).addRoutes(to: router)
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "keys-api-test")
    quiet.logLevel = .critical  // cancelling the server at the end of a test is expected, not news
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          onServerRunning: { channel in
                              portSink.yield(channel.localAddress?.port ?? 0)
                              portSink.finish()
                          }, logger: quiet)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body("http://127.0.0.1:\(port)")
        group.cancelAll()
    }
}

/// The first `count` events of `stream`, or a test failure if they do not come within `seconds`.
func firstEvents(_ stream: AsyncThrowingStream<StoreEvent, any Error>, count: Int,
                 within seconds: Double = 5) async throws -> [StoreEvent] {
    try await withThrowingTaskGroup(of: [StoreEvent]?.self) { group in
        group.addTask {
            var events: [StoreEvent] = []
            for try await event in stream {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let events = first else {
            Issue.record("no \(count) watch events within \(seconds) s")
            return []
        }
        return events
    }
}
