import Foundation
import ServiceLifecycle

/// A complete store held in memory: the reference implementation of ``KeyValueStore``'s
/// semantics (its write rules are ``StoreTree``'s, shared with ``EmbeddedStore``), used by
/// fast tests, benchmarks and wherever a store needs no disk.
///
/// Run it as a `Service` so keys with a TTL expire (and watchers hear `expire`) on time; reads
/// also expire due keys first, so a caller never sees a key past its deadline.
public actor InMemoryStore: KeyValueStore, Service {
    /// The keys, under the same write rules as the embedded store's (``StoreTree``); nothing
    /// is journaled, there is no disk.
    var tree = StoreTree(journaling: false)
    var history: EventHistory
    var watchers = StoreWatchers()
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

    public func currentIndex() -> UInt64 { tree.index }

    public func supportsAttachedKeys() -> Bool { true }

    public func get(_ rawKey: String, recursive: Bool) throws -> StoreNode {
        expireDueKeys()
        let key = try StoreKey.normalize(rawKey)
        guard tree.contains(key) else {
            throw StoreError.missing(key, index: tree.index) { [tree] in tree.entries[$0].map(\.isDirectory) }
        }
        return tree.node(key, depth: recursive ? Int.max : 1)
    }

    public func apply(_ write: StoreWrite) throws -> StoreEvent {
        try write.validate()
        expireDueKeys()
        let outcome = try tree.apply(write, now: now())
        // A refresh is deliberately not published: it must not wake watchers.
        if case .refresh = write { return outcome.event }
        publish(outcome.event)
        for released in outcome.released { publish(released) }
        return outcome.event
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            expireDueKeys()
            // Wake at the next deadline, but at least every 200 ms: writes may add earlier ones.
            let next = tree.earliestExpiration.map { $0.timeIntervalSince(now()) } ?? 0.2
            let wait = min(max(next, 0.005), 0.2)
            try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
        finishAllWatchers()
    }

    /// Removes every key whose TTL has run out, earliest deadline first, each with an `expire` event.
    public func expireDueKeys() {
        for event in tree.expireDueKeys(at: now()) { publish(event) }
    }
}
