import Synchronization

/// The count of open watches for a store whose watches are not kept in one place (each is a
/// request to another server), checked against ``WatchLimits/maxWatchers``.
public final class WatchBudget: Sendable {
    public let limit: Int
    private let open = Mutex(0)

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes one watch from the budget; give it back with ``release()`` when the watch ends.
    ///
    /// - Throws: ``StoreError/Code/tooManyWatchers`` when `limit` watches are open.
    public func take() throws {
        let taken = open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard taken else {
            throw StoreError(.tooManyWatchers, "this store already serves \(limit) watches; retry later")
        }
    }

    public func release() {
        open.withLock { $0 = max(0, $0 - 1) }
    }

    /// Watches open now.
    public var count: Int { open.withLock { $0 } }
}
