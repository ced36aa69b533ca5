extension InMemoryStore {
    public func watch(_ rawKey: String, recursive: Bool, fromIndex: UInt64?) throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        let key = try StoreKey.normalize(rawKey)
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
        let watcher = StoreWatchers.Watcher(key: key, recursive: recursive, fromIndex: fromIndex ?? 0,
                                             continuation: continuation)
        if let from = fromIndex, from <= index {
            guard let replay = history.events(from: from) else {
                let cause = "the requested history has been cleared [\(history.oldestIndex)/\(from)]"
                continuation.finish(throwing: StoreError(.indexCleared, cause, index: index))
                return stream
            }
            for event in replay where watcher.matches(event) { continuation.yield(event) }
        }
        let id = watchers.add(watcher)
        continuation.onTermination = { [weak self] _ in
            // The stream ends on the consumer's side; drop the watcher on the actor.
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    func removeWatcher(_ id: UInt64) {
        watchers.remove(id)
    }

    func publish(_ event: StoreEvent) {
        history.append(event)
        watchers.deliver(event)
    }

    func finishAllWatchers() {
        watchers.finishAll()
    }
}
