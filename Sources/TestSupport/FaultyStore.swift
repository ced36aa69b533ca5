import FleetStore
import Synchronization

/// An `InMemoryStore` whose watches fail on demand, for tests of what follows the store: each
/// call to ``watch(_:recursive:fromIndex:)`` takes the next queued ``Fault`` (none left: a plain
/// watch), and every call is recorded.
public final class FaultyStore: KeyValueStore {
    public enum Fault: Sendable {
        /// The call itself throws.
        case refuse(StoreError)
        /// The watch delivers `count` events, then fails with `error`.
        case breakAfter(Int, StoreError)
        /// The watch never delivers anything and never ends: a connection that died silently.
        case silent
    }

    public let base: InMemoryStore
    private struct State {
        /// Faults in the order they are taken, each for watches of one key or (nil) of any.
        var faults: [(key: String?, fault: Fault)] = []
        var calls: [(key: String, fromIndex: UInt64?)] = []
        var silent: [AsyncThrowingStream<StoreEvent, any Error>.Continuation] = []
    }

    private let state = Mutex(State())

    public init(_ base: InMemoryStore = InMemoryStore()) {
        self.base = base
    }

    public func inject(_ faults: Fault...) { state.withLock { $0.faults += faults.map { (nil, $0) } } }

    /// Faults taken only by watches of exactly `key`; watches of other keys pass them by.
    public func inject(_ faults: Fault..., onWatchesOf key: String) {
        state.withLock { $0.faults += faults.map { (key, $0) } }
    }

    /// The `fromIndex` of every watch opened so far.
    public var watchCalls: [UInt64?] { state.withLock { $0.calls.map(\.fromIndex) } }

    /// The key of every watch opened so far.
    public var watchedKeys: [String] { state.withLock { $0.calls.map(\.key) } }

    public func get(_ key: String, recursive: Bool) async throws -> StoreNode { try await base.get(key, recursive: recursive) }
    public func apply(_ write: StoreWrite) async throws -> StoreEvent { try await base.apply(write) }
    public func currentIndex() async throws -> UInt64 { await base.currentIndex() }

    public func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error> {
        let fault = state.withLock { state -> Fault? in
            state.calls.append((key, fromIndex))
            guard let next = state.faults.firstIndex(where: { $0.key == nil || $0.key == key }) else { return nil }
            return state.faults.remove(at: next).fault
        }
        switch fault {
        case nil:
            return try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
        case .refuse(let error):
            throw error
        case .silent:
            let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
            state.withLock { $0.silent.append(continuation) }  // kept, so the stream never finishes
            return stream
        case .breakAfter(let count, let error):
            let events = try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
            let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
            let relay = Task {
                var delivered = 0
                do {
                    for try await event in events {
                        guard delivered < count else { break }
                        continuation.yield(event)
                        delivered += 1
                        if delivered == count { break }
                    }
                    continuation.finish(throwing: error)
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in relay.cancel() }
            return stream
        }
    }
}
