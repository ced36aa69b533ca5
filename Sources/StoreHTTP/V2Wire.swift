import FleetStore
import Foundation

/// etcd v2's JSON shapes, shared by the server routes and the remote client.
struct V2Node: Codable, Sendable {
    var key: String
    var value: String?
    var dir: Bool?
    var expiration: String?
    var ttl: Int64?
    var nodes: [V2Node]?
    var modifiedIndex: UInt64
    var createdIndex: UInt64

    init(_ node: StoreNode, now: Date, hidingUnderscored: Bool = false) {
        key = node.key
        value = node.value
        dir = node.isDirectory ? true : nil
        expiration = node.expiration.map(V2Time.format)
        ttl = node.ttl(now: now)
        modifiedIndex = node.modifiedIndex
        createdIndex = node.createdIndex
        nodes = node.nodes?
            .filter { !hidingUnderscored || !StoreKey.basename(of: $0.key).hasPrefix("_") }
            .map { V2Node($0, now: now, hidingUnderscored: hidingUnderscored) }
        // etcd omits "value" on directories, and "nodes" when a directory is empty.
        if node.isDirectory && nodes?.isEmpty == true { nodes = nil }
    }

    var storeNode: StoreNode {
        StoreNode(key: key, value: value, isDirectory: dir ?? false, nodes: nodes?.map(\.storeNode),
                  createdIndex: createdIndex, modifiedIndex: modifiedIndex,
                  expiration: expiration.flatMap(V2Time.parse))
    }
}

struct V2Event: Codable, Sendable {
    var action: String
    var node: V2Node
    var prevNode: V2Node?

    init(_ event: StoreEvent, now: Date) {
        action = event.action.rawValue
        node = V2Node(event.node, now: now)
        prevNode = event.prevNode.map { V2Node($0, now: now) }
    }

    var storeEvent: StoreEvent? {
        guard let action = StoreAction(rawValue: action) else { return nil }
        return StoreEvent(action: action, node: node.storeNode, prevNode: prevNode?.storeNode)
    }
}

struct V2Error: Codable, Sendable {
    var errorCode: Int
    var message: String
    var cause: String?
    var index: UInt64

    init(_ error: StoreError) {
        errorCode = error.code.etcdCode
        message = error.code.etcdMessage
        cause = error.cause.isEmpty ? nil : error.cause
        index = error.index
    }

    var storeError: StoreError {
        StoreError(.forEtcdCode(errorCode), cause ?? message, index: index)
    }
}

/// RFC 3339 times as etcd writes them (UTC, fractional seconds).
enum V2Time {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        // etcd writes nanoseconds; Foundation reads at most milliseconds, so trim the fraction.
        var trimmed = text
        if let dot = text.firstIndex(of: "."),
           let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let digits = text[text.index(after: dot)..<end]
            trimmed = String(text[..<dot]) + "." + String(digits.prefix(3)).padding(toLength: 3, withPad: "0", startingAt: 0)
                + String(text[end...])
        }
        return formatter.date(from: trimmed) ?? {
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text)
        }()
    }
}

enum V2JSON {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()
}
