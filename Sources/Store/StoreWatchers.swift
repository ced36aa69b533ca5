/// The open watches of one store: which events each wants, and delivery to them. Shared by the
/// in-memory and embedded stores, which differ only in where their history lives.
///
/// Not thread-safe by itself: each store keeps it inside its actor.
struct StoreWatchers {
    struct Watcher {
        var key: String
        var recursive: Bool
        /// Events before this index are not wanted (the caller asked to start later).
        var fromIndex: UInt64
        var continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation

        func matches(_ event: StoreEvent) -> Bool {
            guard event.index >= fromIndex else { return false }
            let changed = event.node.key
            if changed == key { return true }
            if recursive && StoreKey.isWithin(changed, key) { return true }
            // Removing a directory removes everything below it, so it concerns watchers down there.
            return event.isRemoval && event.node.isDirectory && StoreKey.isWithin(key, changed)
        }
    }

    private var watchers: [UInt64: Watcher] = [:]
    private var nextID: UInt64 = 0

    /// Registers `watcher` for live events; returns the ID to remove it with.
    mutating func add(_ watcher: Watcher) -> UInt64 {
        nextID += 1
        watchers[nextID] = watcher
        return nextID
    }

    mutating func remove(_ id: UInt64) {
        watchers[id] = nil
    }

    /// Hands `event` to every watcher it concerns.
    func deliver(_ event: StoreEvent) {
        for watcher in watchers.values where watcher.matches(event) {
            watcher.continuation.yield(event)
        }
    }

    /// Ends every watch (the store is closing).
    mutating func finishAll() {
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers = [:]
    }
}
