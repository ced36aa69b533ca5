import Foundation
import ServiceLifecycle

/// A complete store held in memory: the reference implementation of ``KeyValueStore``'s
/// semantics, used by fast tests and, until the durable embedded store lands, by `fleetd`.
///
/// Run it as a `Service` so keys with a TTL expire (and watchers hear `expire`) on time; reads
/// also expire due keys first, so a caller never sees a key past its deadline.
public actor InMemoryStore: KeyValueStore, Service {
    struct Entry {
        var value: String?
        var createdIndex: UInt64
        var modifiedIndex: UInt64
        var expiration: Date?
        var isDirectory: Bool { value == nil }
    }

    var entries: [String: Entry] = ["/": Entry(value: nil, createdIndex: 0, modifiedIndex: 0)]
    var children: [String: Set<String>] = ["/": []]
    var index: UInt64 = 0
    var history: EventHistory
    var watchers = StoreWatchers()
    /// No key expires before this; lets every operation skip the expiry scan in O(1). It may be
    /// too early (the key was refreshed or deleted), which only costs one scan that corrects it.
    var earliestExpiration: Date = .distantFuture
    let now: @Sendable () -> Date

    /// - Parameters:
    ///   - historyLimit: how many recent events a watch can reach back to (etcd keeps 1000).
    ///   - now: the wall clock; tests pass a manual one and call ``expireDueKeys()``.
    ///   - watchLimits: how many watches at once, and how far behind each may fall.
    public init(historyLimit: Int = 1000, now: @escaping @Sendable () -> Date = { Date() },
                watchLimits: WatchLimits = WatchLimits()) {
        self.history = EventHistory(limit: historyLimit)
        self.now = now
        self.watchers = StoreWatchers(limits: watchLimits)
    }

    public func currentIndex() -> UInt64 { index }

    public func get(_ rawKey: String, recursive: Bool) throws -> StoreNode {
        expireDueKeys()
        let key = try StoreKey.normalize(rawKey)
        guard entries[key] != nil else {
            throw StoreError.missing(key, index: index) { [entries] in entries[$0].map(\.isDirectory) }
        }
        return node(key, depth: recursive ? Int.max : 1)
    }

    public func apply(_ write: StoreWrite) throws -> StoreEvent {
        try write.validate()
        expireDueKeys()
        if let storeGuard = write.storeGuard {
            let entry = entries[try StoreKey.normalize(storeGuard.key)]
            let file = entry?.isDirectory == false ? entry : nil
            try storeGuard.check(createdIndex: file?.createdIndex, value: file?.value, index: index)
        }
        switch write {
        case let .set(key, value, ttl, condition):
            return try set(key: StoreKey.normalize(key), value: value, ttl: ttl, condition: condition)
        case let .refresh(key, ttl, condition):
            return try refresh(key: StoreKey.normalize(key), ttl: ttl, condition: condition)
        case let .createInOrder(key, value, ttl):
            let dir = try StoreKey.normalize(key)
            let name = String(repeating: "0", count: max(0, 20 - String(index + 1).count)) + String(index + 1)
            return try set(key: dir == "/" ? "/" + name : dir + "/" + name, value: value, ttl: ttl,
                           condition: .mustNotExist)
        case let .delete(key, directory, recursive, condition):
            return try delete(key: StoreKey.normalize(key), directory: directory, recursive: recursive,
                              condition: condition)
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            expireDueKeys()
            // Wake at the next deadline, but at least every 200 ms: writes may add earlier ones.
            let wait = min(max(earliestExpiration.timeIntervalSince(now()), 0.005), 0.2)
            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
        finishAllWatchers()
    }

    /// Removes every key whose TTL has run out, oldest deadline first, each with an `expire` event.
    public func expireDueKeys() {
        let t = now()
        guard earliestExpiration <= t else { return }
        let due = entries.filter { ($0.value.expiration ?? .distantFuture) <= t }
            .sorted { $0.value.expiration! < $1.value.expiration! }
        defer { earliestExpiration = entries.values.compactMap(\.expiration).min() ?? .distantFuture }
        for (key, _) in due where entries[key] != nil {
            let prev = node(key, depth: 0)
            removeSubtree(key)
            index += 1
            publish(StoreEvent(action: .expire,
                               node: StoreNode(key: key, isDirectory: prev.isDirectory,
                                               createdIndex: prev.createdIndex, modifiedIndex: index),
                               prevNode: prev))
        }
    }
}
