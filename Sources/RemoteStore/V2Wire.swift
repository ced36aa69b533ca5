import FleetStore
import Foundation

/// etcd v2's JSON shapes, shared by the server routes and the remote client.
package struct V2Node: Codable, Sendable {
    package var key: String
    package var value: String?
    package var dir: Bool?
    package var expiration: String?
    package var ttl: Int64?
    package var nodes: [V2Node]?
    package var modifiedIndex: UInt64
    package var createdIndex: UInt64

    package init(_ node: StoreNode, now: Date, hidingUnderscored: Bool = false) {
        key = node.key
        value = node.value
        dir = node.isDirectory ? true : nil
        expiration = node.expiration.map(RFC3339Time.format)
        // etcd writes the seconds left rounded up and leaves out a zero: a key whose deadline has
        // come (`ttl=0`, or expired but not yet swept) shows its expiration and no ttl.
        ttl = node.expiration.map { $0 > now } == true ? node.ttl(now: now) : nil
        modifiedIndex = node.modifiedIndex
        createdIndex = node.createdIndex
        nodes = node.nodes?
            .filter { !hidingUnderscored || !StoreKey.basename(of: $0.key).hasPrefix("_") }
            .map { V2Node($0, now: now, hidingUnderscored: hidingUnderscored) }
        // etcd omits "value" on directories, and "nodes" when a directory is empty.
        if node.isDirectory && nodes?.isEmpty == true { nodes = nil }
    }

    package var storeNode: StoreNode {
        StoreNode(key: key, value: value, isDirectory: dir ?? false, nodes: nodes?.map(\.storeNode),
                  createdIndex: createdIndex, modifiedIndex: modifiedIndex,
                  expiration: expiration.flatMap(RFC3339Time.parse))
    }

    enum CodingKeys: String, CodingKey {
        case key, value, dir, expiration, ttl, nodes, modifiedIndex, createdIndex
    }

    /// As etcd writes a node (Go's `omitempty`): the root has no `key` and no indexes (on etcd
    /// the root of the keys is never written, so its indexes are 0).
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let isRoot = key == "/"
        if !isRoot { try container.encode(key, forKey: .key) }
        try container.encodeIfPresent(value, forKey: .value)
        try container.encodeIfPresent(dir, forKey: .dir)
        try container.encodeIfPresent(expiration, forKey: .expiration)
        try container.encodeIfPresent(ttl, forKey: .ttl)
        try container.encodeIfPresent(nodes, forKey: .nodes)
        if !isRoot, modifiedIndex != 0 { try container.encode(modifiedIndex, forKey: .modifiedIndex) }
        if !isRoot, createdIndex != 0 { try container.encode(createdIndex, forKey: .createdIndex) }
    }

    /// Reads what ``encode(to:)`` (or etcd) leaves out back as the root and index 0.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decodeIfPresent(String.self, forKey: .key) ?? "/"
        value = try container.decodeIfPresent(String.self, forKey: .value)
        dir = try container.decodeIfPresent(Bool.self, forKey: .dir)
        expiration = try container.decodeIfPresent(String.self, forKey: .expiration)
        ttl = try container.decodeIfPresent(Int64.self, forKey: .ttl)
        nodes = try container.decodeIfPresent([V2Node].self, forKey: .nodes)
        modifiedIndex = try container.decodeIfPresent(UInt64.self, forKey: .modifiedIndex) ?? 0
        createdIndex = try container.decodeIfPresent(UInt64.self, forKey: .createdIndex) ?? 0
    }
}

package struct V2Event: Codable, Sendable {
    package var action: String
    package var node: V2Node
    package var prevNode: V2Node?

    package init(_ event: StoreEvent, now: Date) {
        action = event.action.rawValue
        node = V2Node(event.node, now: now)
        prevNode = event.prevNode.map { V2Node($0, now: now) }
    }

    package var storeEvent: StoreEvent? {
        guard let action = StoreAction(rawValue: action) else { return nil }
        return StoreEvent(action: action, node: node.storeNode, prevNode: prevNode?.storeNode)
    }
}

package struct V2Error: Codable, Sendable {
    package var errorCode: Int
    package var message: String
    package var cause: String?
    package var index: UInt64

    package init(_ error: StoreError) {
        errorCode = error.code.etcdCode
        message = error.code.etcdMessage
        cause = error.cause.isEmpty ? nil : error.cause
        index = error.index
    }

    package var storeError: StoreError {
        StoreError(.forEtcdCode(errorCode, message: message), cause ?? message, index: index)
    }
}

package enum V2JSON {
    package static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()
}
