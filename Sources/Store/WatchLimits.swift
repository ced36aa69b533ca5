/// How many watches one store serves at once, and how far behind each may fall.
///
/// Both bounds exist because a watch is held open by someone else: an HTTP client, another
/// fleetd. Without them a client that opens watches and never reads (or reads slowly) grows the
/// store's memory without limit; with them it gets an error it can act on.
public struct WatchLimits: Sendable, Equatable {
    /// Open watches beyond this are refused with ``StoreError/Code/tooManyWatchers`` (the keys
    /// API answers 503). fleet itself needs a handful per machine; the rest are clients.
    public var maxWatchers: Int
    /// Events delivered to a watch and not yet consumed. A watch that falls further behind is
    /// ended with ``StoreError/Code/indexCleared``, as etcd ends a slow watcher: the client
    /// re-reads and watches again from the read's index. Well above the history's length (a
    /// replay of all of it always fits) and above what one group commit publishes at once (a
    /// burst of writes reaches watchers in one go, before they run); events share their
    /// strings between watchers, so a buffered event costs a watcher little.
    public var maxPendingEvents: Int

    public static let defaultMaxWatchers = 4096
    public static let defaultMaxPendingEvents = 5000

    /// Values below 1 are raised to 1.
    public init(maxWatchers: Int = defaultMaxWatchers, maxPendingEvents: Int = defaultMaxPendingEvents) {
        self.maxWatchers = max(1, maxWatchers)
        self.maxPendingEvents = max(1, maxPendingEvents)
    }
}

extension StoreError {
    /// How a watch ends when its consumer is more than `limit` events behind at `index`.
    public static func watchFellBehind(at index: UInt64, limit: Int) -> StoreError {
        StoreError(.indexCleared, "the watch fell more than \(limit) events behind at index \(index); "
            + "read again and watch from the read's index", index: index)
    }
}
