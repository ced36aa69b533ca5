/// The open watches of one store: which events each wants, and delivery to them. Shared by the
/// in-memory and embedded stores, which differ only in where their history lives.
///
/// Bounded by ``WatchLimits``: the number of watches, and each one's undelivered events (a
/// watch whose buffer is full is ended with `indexCleared` rather than buffering forever).
///
/// Not thread-safe by itself: each store keeps it inside its actor.
package struct StoreWatchers {
    package typealias Continuation = AsyncThrowingStream<StoreEvent, any Error>.Continuation

    package struct Watcher {
        var key: String
        var recursive: Bool
        /// Events before this index are not wanted (the caller asked to start later).
        var fromIndex: UInt64
        var continuation: Continuation

        func matches(_ event: StoreEvent) -> Bool {
            guard event.index >= fromIndex else { return false }
            let changed = event.node.key
            if changed == key { return true }
            if recursive && StoreKey.isWithin(changed, key) { return true }
            // Removing a directory removes everything below it, so it concerns watchers down there.
            return event.isRemoval && event.node.isDirectory && StoreKey.isWithin(key, changed)
        }
    }

    package let limits: WatchLimits
    private var watchers: [UInt64: Watcher] = [:]
    /// Watch IDs by the key they watch, so an event is offered only to the watches on its key
    /// and its ancestors (at most ``StoreLimits/maximumKeyDepth`` lookups), not to every watch:
    /// with a thousand agents each watching its own `schedule/<machine>`, checking each event
    /// against all of them was a quarter of the store's CPU (issue 16, 1,000 machines).
    private var byKey: [String: Set<UInt64>] = [:]
    private var nextID: UInt64 = 0

    package init(limits: WatchLimits = WatchLimits()) {
        self.limits = limits
    }

    /// Open watches.
    package var count: Int { watchers.count }

    /// Opens a watch: replays what it asks for from the past (`replay(from)` returns the
    /// history from an index, nil when it no longer reaches back that far), then registers it
    /// for live events. When the consumer stops, `onEnd` gets the watcher's ID: the store
    /// calls ``remove(_:)`` with it on its actor.
    ///
    /// - Throws: ``StoreError/Code/tooManyWatchers`` when ``WatchLimits/maxWatchers`` are open;
    ///   ``StoreError/Code/indexCleared`` when the history no longer reaches back to `fromIndex`.
    package mutating func open(key: String, recursive: Bool, fromIndex: UInt64?, currentIndex: UInt64,
                       oldestIndex: UInt64, replay: (UInt64) -> ArraySlice<StoreEvent>?,
                       onEnd: @escaping @Sendable (UInt64) -> Void) throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        guard watchers.count < limits.maxWatchers else {
            throw StoreError(.tooManyWatchers, "this store already serves \(limits.maxWatchers) watches; retry later",
                             index: currentIndex)
        }
        var past: ArraySlice<StoreEvent> = []
        if let from = fromIndex, from <= currentIndex {
            guard let events = replay(from) else {
                // Thrown, not put in the stream: the keys API must answer it with etcd's 400
                // before any header goes out, as etcd does.
                let cause = "the requested history has been cleared [\(oldestIndex)/\(from)]"
                throw StoreError(.indexCleared, cause, index: currentIndex)
            }
            past = events
        }
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(limits.maxPendingEvents))
        let watcher = Watcher(key: key, recursive: recursive, fromIndex: fromIndex ?? 0, continuation: continuation)
        for event in past where watcher.matches(event) {
            guard offer(event, to: watcher) else { return stream }
        }
        nextID += 1
        let id = nextID
        watchers[id] = watcher
        byKey[key, default: []].insert(id)
        continuation.onTermination = { _ in onEnd(id) }
        return stream
    }

    package mutating func remove(_ id: UInt64) {
        guard let watcher = watchers.removeValue(forKey: id) else { return }
        byKey[watcher.key]?.remove(id)
        if byKey[watcher.key]?.isEmpty == true { byKey[watcher.key] = nil }
    }

    /// Hands `event` to every watcher it concerns; a watcher whose buffer is full is ended and
    /// dropped.
    package mutating func deliver(_ event: StoreEvent) {
        var ended: [UInt64] = []
        for id in candidates(for: event) {
            guard let watcher = watchers[id], watcher.matches(event) else { continue }
            if !offer(event, to: watcher) { ended.append(id) }
        }
        for id in ended { remove(id) }
    }

    /// The watches `event` may concern: those on its key or an ancestor; for a directory's
    /// removal, which concerns the watches below it too, all of them.
    private func candidates(for event: StoreEvent) -> [UInt64] {
        if event.isRemoval && event.node.isDirectory { return Array(watchers.keys) }
        var ids: [UInt64] = []
        var key = event.node.key
        while true {
            if let found = byKey[key] { ids.append(contentsOf: found) }
            if key == "/" { return ids }
            key = StoreKey.parent(of: key)
        }
    }

    /// Yields `event`; false (and the watch ended) when the consumer is gone or too far behind.
    private func offer(_ event: StoreEvent, to watcher: Watcher) -> Bool {
        switch watcher.continuation.yield(event) {
        case .enqueued:
            return true
        case .terminated:
            return false
        case .dropped:
            watcher.continuation.finish(throwing: StoreError.watchFellBehind(at: event.index, limit: limits.maxPendingEvents))
            return false
        @unknown default:
            return true
        }
    }

    /// Ends every watch (the store is closing).
    package mutating func finishAll() {
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers = [:]
        byKey = [:]
    }
}
