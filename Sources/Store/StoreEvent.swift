/// What a write did, named as etcd v2 names it in the `action` field.
public enum StoreAction: String, Sendable, Hashable, Codable {
    case get, set, create, update, compareAndSwap, delete, compareAndDelete, expire
}

/// One change to the tree. Writes return it; watches deliver it.
public struct StoreEvent: Sendable, Hashable {
    public var action: StoreAction
    /// The node after the change (for delete and expire: the key without a value).
    public var node: StoreNode
    /// The node before the change, when there was one.
    public var prevNode: StoreNode?

    public init(action: StoreAction, node: StoreNode, prevNode: StoreNode? = nil) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
    }

    /// The store index this event happened at.
    public var index: UInt64 { node.modifiedIndex }

    /// True for delete, compareAndDelete and expire: the key is gone afterwards.
    public var isRemoval: Bool { action == .delete || action == .compareAndDelete || action == .expire }
}
