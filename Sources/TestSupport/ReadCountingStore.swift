import FleetStore
import Synchronization

/// An `InMemoryStore` that counts the reads (`get`) of keys within one prefix, for tests of how
/// many store round trips an operation costs (on etcd each read is one), and lets a test act
/// before each read (hold it, to see which reads are out at once).
public final class ReadCountingStore: KeyValueStore {
    public let base: InMemoryStore
    /// Reads of this key or anything below it are counted.
    public let counted: String
    private let reads = Mutex(0)
    private let beforeRead: (@Sendable (String) async -> Void)?

    public init(counting prefix: String, _ base: InMemoryStore = InMemoryStore(),
                beforeRead: (@Sendable (String) async -> Void)? = nil) {
        self.counted = prefix
        self.base = base
        self.beforeRead = beforeRead
    }

    /// Reads counted since the start or the last ``resetReads()``.
    public var readCount: Int { reads.withLock { $0 } }

    public func resetReads() { reads.withLock { $0 = 0 } }

    public func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        if StoreKey.isWithin(key, counted) { reads.withLock { $0 += 1 } }
        await beforeRead?(key)
        return try await base.get(key, recursive: recursive)
    }
    public func apply(_ write: StoreWrite) async throws -> StoreEvent { try await base.apply(write) }
    public func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }
    public func currentIndex() async throws -> UInt64 { await base.currentIndex() }
    public func supportsAttachedKeys() async -> Bool { await base.supportsAttachedKeys() }
    public var watchSilenceLimit: Duration? { base.watchSilenceLimit }
}
