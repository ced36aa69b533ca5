extension InMemoryStore {
    public func watch(_ rawKey: String, recursive: Bool, fromIndex: UInt64?) throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        let key = try StoreKey.normalize(rawKey)
        let history = history
        return try watchers.open(key: key, recursive: recursive, fromIndex: fromIndex, currentIndex: tree.index,
                                 oldestIndex: history.oldestIndex, replay: { history.events(from: $0) },
                                 onEnd: { [weak self] id in
                                     // The stream ends on the consumer's side; drop the watcher on the actor.
                                     Task { await self?.removeWatcher(id) }
                                 })
    }

    /// Open watches (tests check that an abandoned one goes away).
    public var watcherCount: Int { watchers.count }

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
