import FleetStore
import Foundation

extension EtcdStore {
    /// Events for `key` (and below it when `recursive`) from `fromIndex` on, as an etcd v3 watch
    /// from that revision.
    ///
    /// The watch runs on a task of its own for as long as the stream is consumed. When its
    /// connection fails (the member died, lost its leader, or closed the stream), it opens the
    /// watch again on the next member from the revision after the last one it delivered, so
    /// nothing is lost or repeated. It ends with ``StoreError/Code/indexCleared`` when etcd has
    /// compacted the revision it needs, and without an error when the store shuts down.
    ///
    /// Differences from v2, all because v3 records keys, not a tree:
    /// - a put is delivered as `set`, whichever write made it (`prevNode` is nil for a new key);
    /// - a delete is `delete` (also for compare-and-delete), or `expire` when the key had a lease
    ///   that no longer exists by the time the event is read: best effort, since a key deleted
    ///   explicitly whose lease then ran out before the event was read (a watch replaying old
    ///   history, say) is reported as expired too;
    /// - deleting a directory delivers one delete per key below it, all at the same index, rather
    ///   than one event for the directory, to recursive watchers and to watchers of those keys alike;
    /// - a non-recursive watch sees its own key only (a value, or a directory's marker).
    public func watch(_ rawKey: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        let key = try StoreKey.normalize(rawKey)
        let limits = configuration.watchLimits
        // Bounded: a consumer that falls further behind is ended with indexCleared (EtcdWatcher).
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(limits.maxPendingEvents))
        // "From the next change on" is pinned to the revision after the current one here, before
        // returning: the v3 watch is created asynchronously, and a write made right after this
        // call returns must not slip in before it. An explicit 0 asks for all history there is.
        let start: Int64
        if let fromIndex {
            start = Int64(clamping: max(1, fromIndex))
        } else {
            start = Int64(clamping: try await currentIndex()).nextRevision
        }
        let watcher = EtcdWatcher(store: self, key: key, recursive: recursive, continuation: continuation)
        let task: Task<Void, Never>? = try watches.withLock { registry throws(StoreError) -> Task<Void, Never>? in
            guard !registry.isShutDown else { return nil }
            guard registry.tasks.count < limits.maxWatchers else {
                throw StoreError(.tooManyWatchers, "this store already serves \(limits.maxWatchers) watches; retry later")
            }
            registry.nextID += 1
            let id = registry.nextID
            // Unstructured on purpose: the watch belongs to whoever consumes the stream, outlives
            // this call, and is cancelled by the stream's termination or by `shutdown()`.
            let task = Task {
                await watcher.run(from: start)
                _ = self.watches.withLock { $0.tasks.removeValue(forKey: id) }
            }
            registry.tasks[id] = task
            return task
        }
        guard let task else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Watch connections opened again after a failure (diagnostics and tests).
    var watchReconnects: Int { gateway.watchReconnects }
}
