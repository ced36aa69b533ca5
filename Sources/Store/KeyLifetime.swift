/// How long a key a machine publishes (a unit state, a discovery record) lives.
public enum KeyLifetime: Sendable, Hashable {
    /// Its own TTL, in seconds: the writer must refresh it, one write per key per interval.
    case ttl(Int64)
    /// As long as the key `owner` (the machine's presence): nothing to refresh per key, and the
    /// key goes the moment the owner does (``StoreWrite/attach(key:value:owner:condition:)``).
    case attached(to: String)

    /// Whether the writer must keep the key alive itself.
    public var needsRefresh: Bool {
        if case .ttl = self { return true }
        return false
    }
}

extension KeyValueStore {
    /// Sets `key` to `value` with `lifetime`.
    @discardableResult
    public func set(_ key: String, _ value: String, lifetime: KeyLifetime,
                    condition: StoreCondition = .none) async throws -> StoreEvent {
        switch lifetime {
        case let .ttl(seconds): try await set(key, value, ttl: seconds, condition: condition)
        case let .attached(owner): try await attach(key, value, to: owner, condition: condition)
        }
    }
}
