import FleetStore
extension EmbeddedStore {
    public func watch(_ rawKey: String, recursive: Bool, fromIndex: UInt64?) throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try checkOpen()
        let key = try StoreKey.normalize(rawKey)
        // Only committed events are in the history and only they are published, so a watch
        // never delivers a change that is not on disk.
        let history = history
        return try watchers.open(key: key, recursive: recursive, fromIndex: fromIndex, currentIndex: committed.index,
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

    /// Records a committed event and hands it to every watcher it concerns.
    func publish(_ event: StoreEvent) {
        history.append(event)
        watchers.deliver(event)
    }

    func finishAllWatchers() {
        watchers.finishAll()
    }
}
