extension EmbeddedStore {
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

    public func watch(_ rawKey: String, recursive: Bool, fromIndex: UInt64?) throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try checkOpen()
        let key = try StoreKey.normalize(rawKey)
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
        let watcher = Watcher(key: key, recursive: recursive, fromIndex: fromIndex ?? 0, continuation: continuation)
        // Only committed events are in the history and only they are published, so a watch
        // never delivers a change that is not on disk.
        if let from = fromIndex, from <= committed.index {
            guard let replay = history.events(from: from) else {
                let cause = "the requested history has been cleared [\(history.oldestIndex)/\(from)]"
                continuation.finish(throwing: StoreError(.indexCleared, cause, index: committed.index))
                return stream
            }
            for event in replay where watcher.matches(event) { continuation.yield(event) }
        }
        nextWatcherID += 1
        let id = nextWatcherID
        watchers[id] = watcher
        continuation.onTermination = { [weak self] _ in
            // The stream ends on the consumer's side; drop the watcher on the actor.
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    func removeWatcher(_ id: UInt64) {
        watchers[id] = nil
    }

    /// Records a committed event and hands it to every watcher it concerns.
    func publish(_ event: StoreEvent) {
        history.append(event)
        for watcher in watchers.values where watcher.matches(event) {
            watcher.continuation.yield(event)
        }
    }

    func finishAllWatchers() {
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers = [:]
    }
}
