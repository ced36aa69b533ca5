/// What a ``StoreFollower`` delivers, in store order.
public enum StoreFollowEvent<Snapshot: Sendable>: Sendable {
    /// What the follower's `load` read, and the store index it is at least as new as (taken
    /// before the read). Comes first, and again whenever the follower had to read afresh; it
    /// replaces whatever the consumer built from earlier snapshots and events.
    case snapshot(Snapshot, index: UInt64)
    /// One change after the last snapshot; never repeated, none left out.
    case event(StoreEvent)
    /// The watch failed and is being retried; sent once per outage, not once per retry.
    case lost(any Error)
    /// The watch works again after ``lost(_:)``; what changed meanwhile follows.
    case restored
}

/// A long watch of the store that cannot die silently: the one way fleet follows a part of the
/// store (the engine's registry, an agent's assignments, the DNS zone, the mDNS bridge,
/// `fleetctl discover --watch`).
///
/// Its rules:
/// - It starts with a ``StoreFollowEvent/snapshot(_:index:)``: the index first, then `load`, so
///   a change made during the read comes again as an event (applied twice, never lost).
/// - It then watches from the snapshot's index plus one. After an error it retries with
///   exponential back-off (``StoreFollowOptions/minRetryDelay`` to ``StoreFollowOptions/maxRetryDelay``,
///   jittered) from the last index delivered plus one, so nothing is lost or repeated.
/// - When the store no longer has that history (``StoreError/Code/indexCleared``), or the
///   consumer fell more than ``StoreFollowOptions/maxPendingEvents`` behind, it loads a new snapshot.
/// - A watch that delivers nothing for ``StoreFollowOptions/maxSilence`` is made anew from the
///   last index plus one: that is how a watch over a dead connection is noticed. A store
///   that replaces its silent watches itself within that bound (``KeyValueStore/watchSilenceLimit``:
///   a remote store whose server sends heartbeats) is left to do so.
/// - It never ends by itself: iteration ends when the consuming task is cancelled (use
///   `cancelOnGracefulShutdown()` in a service) or the consumer stops iterating.
///
/// Each iterator runs the follow on a task of its own, which ends with the iteration.
public struct StoreFollower<Snapshot: Sendable>: AsyncSequence, Sendable {
    public typealias Element = StoreFollowEvent<Snapshot>

    let store: any KeyValueStore
    let key: String
    let recursive: Bool
    let options: StoreFollowOptions
    let load: @Sendable () async throws -> Snapshot

    public func makeAsyncIterator() -> AsyncStream<Element>.Iterator {
        let (stream, continuation) = AsyncStream<Element>.makeStream(
            bufferingPolicy: .bufferingOldest(options.maxPendingEvents))
        let loop = FollowLoop(follower: self, output: continuation)
        // Unstructured on purpose: it belongs to the iterator and ends with it (onTermination).
        let task = Task {
            await loop.run()
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream.makeAsyncIterator()
    }
}

extension KeyValueStore {
    /// Follows `key` (and everything below it when `recursive`): a snapshot of the node read
    /// with ``get(_:recursive:)`` (nil while there is no such key), then its changes. See
    /// ``StoreFollower`` for the rules.
    public func follow(_ key: String, recursive: Bool = true,
                       options: StoreFollowOptions = StoreFollowOptions()) -> StoreFollower<StoreNode?> {
        follow(key, recursive: recursive, options: options) { [self] in
            try await getIfPresent(key, recursive: recursive)
        }
    }

    /// Follows `key` with snapshots made by `load`, for callers that read more than one node (the
    /// engine's model) or keep only part of it. `load` runs after the snapshot's index was taken.
    public func follow<Snapshot: Sendable>(_ key: String, recursive: Bool = true,
                                           options: StoreFollowOptions = StoreFollowOptions(),
                                           load: @escaping @Sendable () async throws -> Snapshot)
        -> StoreFollower<Snapshot>
    {
        StoreFollower(store: self, key: key, recursive: recursive, options: options, load: load)
    }
}
