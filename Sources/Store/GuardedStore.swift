/// A view of a store in which every write carries one ``StoreGuard``: a lease holder's writes,
/// fenced by its term, so none of them lands once the lease is someone else's.
///
/// Reads and watches pass through. In-order creation cannot carry a guard and is refused.
public struct GuardedStore: KeyValueStore {
    public let base: any KeyValueStore
    public let storeGuard: StoreGuard

    public init(_ base: any KeyValueStore, guardedBy storeGuard: StoreGuard) {
        self.base = base
        self.storeGuard = storeGuard
    }

    public func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        try await base.get(key, recursive: recursive)
    }

    /// Applies `write` with this view's guard in place of any it had.
    /// - Throws: ``StoreError/Code/guardFailed`` when the guard does not hold (nothing is written).
    public func apply(_ write: StoreWrite) async throws -> StoreEvent {
        switch write {
        case .set(let key, let value, let ttl, var condition):
            condition.guardedBy = storeGuard
            return try await base.apply(.set(key: key, value: value, ttl: ttl, condition: condition))
        case .refresh(let key, let ttl, var condition):
            condition.guardedBy = storeGuard
            return try await base.apply(.refresh(key: key, ttl: ttl, condition: condition))
        case .delete(let key, let directory, let recursive, var condition):
            condition.guardedBy = storeGuard
            return try await base.apply(.delete(key: key, directory: directory, recursive: recursive, condition: condition))
        case .attach(let key, let value, let owner, var condition):
            condition.guardedBy = storeGuard
            return try await base.apply(.attach(key: key, value: value, owner: owner, condition: condition))
        case let .createInOrder(key, _, _):
            throw StoreError(.invalidField, "in-order keys cannot be guarded (\(key))")
        }
    }

    public func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }

    public func currentIndex() async throws -> UInt64 { try await base.currentIndex() }

    public func supportsAttachedKeys() async -> Bool { await base.supportsAttachedKeys() }
    public var watchSilenceLimit: Duration? { base.watchSilenceLimit }
}
