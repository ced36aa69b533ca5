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
        expiration = node.expiration.map(V2Time.format)
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
                  expiration: expiration.flatMap(V2Time.parse))
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

/// RFC 3339 times as etcd writes them (UTC, fractional seconds).
/// RFC 3339 times as etcd's v2 API writes them (`expiration`), e.g. `2026-11-25T12:00:00.123Z`.
///
/// Written and read by hand: Foundation's ISO8601DateFormatter builds an ICU formatter per
/// instance, which dominated fleetd's CPU profile when every watched node carried a TTL.
package enum V2Time {
    /// Any date is written: one outside year 1970...9999 (a deadline stored by an older version)
    /// is clamped into it first, so the conversion to milliseconds cannot trap.
    package static func format(_ date: Date) -> String {
        let clamped = StoreLimits.clamp(expiration: date)
        let milliseconds = Int64((clamped.timeIntervalSince1970 * 1000).rounded(.down))
        var time = time_t(milliseconds.quotient(dividingBy: 1000))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec),
                      Int(milliseconds.remainderFloored(dividingBy: 1000)))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil for anything else.
    package static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("Tt"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
              let second = number(2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
              second < 61
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }
}

extension Int64 {
    fileprivate func quotient(dividingBy divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor < 0) ? q - 1 : q
    }

    fileprivate func remainderFloored(dividingBy divisor: Int64) -> Int64 {
        let r = self % divisor
        return r < 0 ? r + divisor : r
    }
}

package enum V2JSON {
    package static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()
}
