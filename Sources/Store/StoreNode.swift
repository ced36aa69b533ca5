import Foundation

/// One node of the key tree as etcd's v2 API shows it: a value, or a directory of nodes.
public struct StoreNode: Sendable, Hashable {
    public var key: String
    public var value: String?
    public var isDirectory: Bool
    /// Children, sorted by key; only filled for directories read with `recursive` (or one level).
    public var nodes: [StoreNode]?
    public var createdIndex: UInt64
    public var modifiedIndex: UInt64
    /// When the node expires, if it has a TTL.
    public var expiration: Date?

    public init(key: String, value: String? = nil, isDirectory: Bool = false, nodes: [StoreNode]? = nil,
                createdIndex: UInt64, modifiedIndex: UInt64, expiration: Date? = nil) {
        self.key = key
        self.value = value
        self.isDirectory = isDirectory
        self.nodes = nodes
        self.createdIndex = createdIndex
        self.modifiedIndex = modifiedIndex
        self.expiration = expiration
    }

    /// Seconds left until expiry, rounded up as etcd does (at least 1 while unexpired).
    public func ttl(now: Date) -> Int64? {
        guard let expiration else { return nil }
        return max(1, Int64((expiration.timeIntervalSince(now)).rounded(.up)))
    }

    /// Every value node at or below this one, depth first in key order.
    public var leaves: [StoreNode] {
        guard isDirectory else { return [self] }
        return (nodes ?? []).flatMap(\.leaves)
    }

    /// The direct child named `name`, if the node was read with its children.
    public func child(_ name: String) -> StoreNode? {
        nodes?.first { StoreKey.basename(of: $0.key) == name }
    }
}
