/// The store every part of fleet talks to: a tree of keys with one global index, TTLs,
/// compare-and-swap/delete and watches that resume from an index. It follows etcd's v2 model
/// because that is what people drive by hand with curl and etcdctl.
///
/// Backends: ``InMemoryStore`` (in-process; tests and the single-machine default for now) and
/// `RemoteStore` (another fleetd's keys API). Conveniences live in the extension below, so each
/// backend implements only these four requirements.
public protocol KeyValueStore: Sendable {
    /// The node at `key`; a directory comes with its children (all levels when `recursive`).
    ///
    /// - Throws: ``StoreError/Code/keyNotFound`` when there is no such key.
    func get(_ key: String, recursive: Bool) async throws -> StoreNode

    /// Applies one write atomically and returns the event it produced.
    func apply(_ write: StoreWrite) async throws -> StoreEvent

    /// Events for `key` (and, when `recursive`, everything below it) with an index of at least
    /// `fromIndex`, oldest first; `nil` means from the next change on.
    ///
    /// Resume a broken watch from the last index seen plus one: nothing is lost or repeated.
    /// When `fromIndex` is older than the history the store keeps, this throws
    /// ``StoreError/Code/indexCleared`` (or, where a backend learns it only later, the stream
    /// finishes with it); re-read, then watch again from the read's index.
    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error>

    /// The index of the latest change.
    func currentIndex() async throws -> UInt64

    /// Whether ``StoreWrite/attach(key:value:owner:condition:)`` is understood here. The local
    /// backends and etcd always do; a remote store asks its server, since an older fleetd would
    /// store the key without its owner, for ever. A wrapper must pass the question on.
    func supportsAttachedKeys() async -> Bool

    /// How long a watch of this store may go unheard before the store itself makes it anew
    /// from its index, or nil when nothing says so. A remote store whose server sends heartbeats
    /// on quiet watches hears a live connection even when no key changes, so it replaces a dead
    /// one within this time on its own, and a follower need not bound the silence a second
    /// time (``StoreFollowOptions/maxSilence``): re-making a quiet remote watch costs a new
    /// connection and a TLS handshake on the store's machine. A wrapper must pass it on.
    var watchSilenceLimit: Duration? { get }
}

extension KeyValueStore {
    /// Stores that do not say otherwise (test doubles) do not attach: callers fall back to TTLs.
    public func supportsAttachedKeys() async -> Bool { false }

    /// Stores that do not say otherwise leave silence to their followers.
    public var watchSilenceLimit: Duration? { nil }

    /// Sets `key` to `value` for as long as `owner` lives (``StoreWrite/attach(key:value:owner:condition:)``).
    @discardableResult
    public func attach(_ key: String, _ value: String, to owner: String,
                       condition: StoreCondition = .none) async throws -> StoreEvent {
        try await apply(.attach(key: key, value: value, owner: owner, condition: condition))
    }

    /// The node at `key`, or nil when there is none.
    public func getIfPresent(_ key: String, recursive: Bool = false) async throws -> StoreNode? {
        do {
            return try await get(key, recursive: recursive)
        } catch let error as StoreError where error.code == .keyNotFound {
            return nil
        }
    }

    /// The value at `key`, or nil when there is none.
    public func value(_ key: String) async throws -> String? {
        try await getIfPresent(key)?.value
    }

    @discardableResult
    public func set(_ key: String, _ value: String, ttl: Int64? = nil,
                    condition: StoreCondition = .none) async throws -> StoreEvent {
        try await apply(.set(key: key, value: value, ttl: ttl, condition: condition))
    }

    /// Creates `key`; throws ``StoreError/Code/nodeExists`` if it is already there.
    @discardableResult
    public func create(_ key: String, _ value: String, ttl: Int64? = nil) async throws -> StoreEvent {
        try await apply(.set(key: key, value: value, ttl: ttl, condition: .mustNotExist))
    }

    @discardableResult
    public func refresh(_ key: String, ttl: Int64, condition: StoreCondition = .mustExist) async throws -> StoreEvent {
        try await apply(.refresh(key: key, ttl: ttl, condition: condition))
    }

    /// Deletes `key` (recursively when it is a directory); a missing key is not an error.
    public func deleteIfPresent(_ key: String, recursive: Bool = true) async throws {
        do {
            _ = try await apply(.delete(key: key, directory: recursive, recursive: recursive, condition: .none))
        } catch let error as StoreError where error.code == .keyNotFound {
        }
    }

    @discardableResult
    public func delete(_ key: String, recursive: Bool = false, condition: StoreCondition = .none) async throws -> StoreEvent {
        try await apply(.delete(key: key, directory: recursive, recursive: recursive, condition: condition))
    }
}
