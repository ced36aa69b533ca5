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
    ///
    /// Any deadline gives an answer (capped far above anything ``StoreLimits`` lets in): one
    /// written by an older version or read from another server must not trap the conversion.
    public func ttl(now: Date) -> Int64? {
        guard let expiration else { return nil }
        let seconds = expiration.timeIntervalSince(now).rounded(.up)
        // NaN fails both comparisons and ends up as 1, as an expired-but-unswept key does.
        guard seconds >= 1 else { return 1 }
        return seconds < Self.largestTTLAnswer ? Int64(seconds) : Int64(Self.largestTTLAnswer)
    }

    /// Larger than any deadline ``StoreLimits`` lets in, and far inside `Int64`.
    private static let largestTTLAnswer: Double = 1e15

    /// Every value node at or below this one, depth first in key order.
    ///
    /// Walked with an explicit stack, so a deep tree read from another server cannot exhaust
    /// the thread's stack.
    public var leaves: [StoreNode] {
        var result: [StoreNode] = []
        var pending: [StoreNode] = [self]
        while let node = pending.popLast() {
            if node.isDirectory {
                pending.append(contentsOf: (node.nodes ?? []).reversed())
            } else {
                result.append(node)
            }
        }
        return result
    }

    /// The direct child named `name`, if the node was read with its children.
    public func child(_ name: String) -> StoreNode? {
        nodes?.first { StoreKey.lastSegment(of: $0.key, is: name) }
    }
}
