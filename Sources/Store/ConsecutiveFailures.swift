import Synchronization

/// How many writes in a row failed, per key, while some do: a ``KeyedWriteQueue``'s worker logs
/// the first failure of a key as a warning and its retries quietly (a store gone for 30 s would
/// otherwise log ten warnings per key), and says when the key is written again.
public final class ConsecutiveFailures<Key: Hashable & Sendable>: Sendable {
    private let counts = Mutex<[Key: Int]>([:])

    public init() {}

    /// Counts a failure; returns how many in a row there have been.
    public func failed(_ key: Key) -> Int {
        counts.withLock { counts in
            counts[key, default: 0] += 1
            return counts[key] ?? 1
        }
    }

    /// A write succeeded; returns how many had failed before it, if any.
    public func recovered(_ key: Key) -> Int? {
        counts.withLock { $0.removeValue(forKey: key) }
    }
}
