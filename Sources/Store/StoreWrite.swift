/// A precondition on a write: etcd v2's `prevExist`, `prevIndex` and `prevValue`, and our
/// ``StoreGuard`` on another key.
public struct StoreCondition: Sendable, Hashable {
    public var prevExist: Bool?
    public var prevIndex: UInt64?
    public var prevValue: String?
    /// A key that must still be the same incarnation for the write to happen (fencing); checked
    /// first, atomically with the write. Not part of etcd v2 (see ``StoreGuard``).
    public var guardedBy: StoreGuard?

    public init(prevExist: Bool? = nil, prevIndex: UInt64? = nil, prevValue: String? = nil,
                guardedBy: StoreGuard? = nil) {
        self.prevExist = prevExist
        self.prevIndex = prevIndex
        self.prevValue = prevValue
        self.guardedBy = guardedBy
    }

    public static let none = StoreCondition()
    /// Create only: fails with ``StoreError/Code/nodeExists`` if the key is there.
    public static let mustNotExist = StoreCondition(prevExist: false)
    /// Update only: fails with ``StoreError/Code/keyNotFound`` if the key is not there.
    public static let mustExist = StoreCondition(prevExist: true)

    /// True when a compare (index or value) is asked for, which makes a write a CAS or CAD.
    public var isCompare: Bool { (prevIndex ?? 0) != 0 || prevValue != nil }
}

/// Every change a store can make, as one value, so backends implement a single entry point.
public enum StoreWrite: Sendable, Hashable {
    /// Set `key` to `value` (or make a directory when `value` is nil), optionally with a TTL in seconds.
    case set(key: String, value: String?, ttl: Int64?, condition: StoreCondition)
    /// Reset the TTL of an existing key without changing its value and without waking watchers.
    case refresh(key: String, ttl: Int64, condition: StoreCondition)
    /// Set `key` to `value` for as long as the key `owner` lives: when `owner` expires or is deleted,
    /// `key` goes with it (an `expire` event), and keeping `owner` alive keeps `key` alive at no
    /// cost per key. `owner` must be a value with a TTL and not attached itself. Not part of etcd
    /// v2; on etcd v3 `key` shares `owner`'s lease. Ask ``KeyValueStore/supportsAttachedKeys()``
    /// first: a server that does not know it would keep `key` forever.
    case attach(key: String, value: String, owner: String, condition: StoreCondition)
    /// Create a child of directory `key` named by the new index (etcd's POST, in-order keys).
    case createInOrder(key: String, value: String, ttl: Int64?)
    /// Remove `key`; a directory needs `directory` (empty) or `recursive` (any).
    case delete(key: String, directory: Bool, recursive: Bool, condition: StoreCondition)
}
