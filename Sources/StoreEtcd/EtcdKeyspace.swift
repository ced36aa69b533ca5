import FleetStore
import Foundation

/// Where fleet's v2-style tree lives in etcd's flat v3 keyspace.
///
/// A fleet key `/a/b` is the etcd key `<prefix>/a/b`. Directories are implied by the keys below
/// them: the subtree of `/a` is the half-open range `[<prefix>/a/, <prefix>/a0)` ('0' is the byte
/// after '/'). An explicitly made directory (mkdir, which may be empty) is a marker key with the
/// directory's name and a trailing slash, `<prefix>/a/`: normalised fleet keys never end in '/',
/// so a marker can never collide with a value key, and it is the first key of its own subtree, so
/// deleting the subtree removes it too.
struct EtcdKeyspace: Sendable, Hashable {
    /// The prefix's bytes, without a trailing slash ("" = the whole keyspace).
    let prefix: [UInt8]

    init(prefix: String) {
        var bytes = Array(prefix.utf8)
        while bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        self.prefix = bytes
    }

    /// The etcd key holding the value of the (normalised) fleet key `key`; the root maps to the
    /// prefix itself, which is never written.
    func valueKey(_ key: String) -> Data {
        key == "/" ? Data(prefix) : Data(prefix + Array(key.utf8))
    }

    /// The first key of `key`'s subtree, which is also its directory marker.
    func directoryKey(_ key: String) -> Data {
        key == "/" ? Data(prefix + [UInt8(ascii: "/")]) : Data(prefix + Array(key.utf8) + [UInt8(ascii: "/")])
    }

    /// The end of `key`'s subtree range (exclusive).
    func subtreeEnd(_ key: String) -> Data {
        var end = directoryKey(key)
        end[end.index(before: end.endIndex)] = UInt8(ascii: "0")
        return end
    }

    /// The range of everything below `key` except its own directory marker.
    func childrenStart(_ key: String) -> Data {
        directoryKey(key) + [0]
    }

    /// The fleet key an etcd key stands for, and whether it is a directory marker; nil for keys
    /// outside the prefix or not in normalised form (written by something other than fleet).
    ///
    /// Every key of every read and watch event comes through here, so an ASCII key (all of
    /// fleet's) is checked byte by byte; anything else goes the long way, through
    /// ``StoreKey/normalize(_:)`` on its decoded text.
    func fleetKey(_ etcdKey: Data) -> (key: String, isMarker: Bool)? {
        etcdKey.withUnsafeBytes { raw -> (key: String, isMarker: Bool)? in
            guard raw.count > prefix.count, raw.prefix(prefix.count).elementsEqual(prefix) else { return nil }
            var rest = UnsafeRawBufferPointer(rebasing: raw[prefix.count...])
            if rest.contains(where: { $0 >= 0x80 }) { return decodedFleetKey(etcdKey) }
            let isMarker = rest.last == UInt8(ascii: "/")
            if isMarker { rest = UnsafeRawBufferPointer(rebasing: rest.dropLast()) }
            // Not the root: the keyspace holds keys below it.
            guard rest.count > 1, StoreKey.isCanonical(bytes: rest) else { return nil }
            return (String(decoding: rest, as: UTF8.self), isMarker)
        }
    }

    /// ``fleetKey(_:)`` through the key's decoded text: the reference, and the way for keys that
    /// are not ASCII.
    func decodedFleetKey(_ etcdKey: Data) -> (key: String, isMarker: Bool)? {
        guard etcdKey.count > prefix.count, etcdKey.starts(with: prefix) else { return nil }
        var rest = String(decoding: etcdKey.dropFirst(prefix.count), as: UTF8.self)
        var isMarker = false
        if rest.hasSuffix("/") {
            isMarker = true
            rest.removeLast()
        }
        guard rest.hasPrefix("/"), let normal = try? StoreKey.normalize(rest), normal == rest, normal != "/" else {
            return nil
        }
        return (normal, isMarker)
    }

    /// The directories above `key`, nearest first, without the root (which is always a directory).
    static func ancestors(of key: String) -> [String] {
        var result: [String] = []
        var parent = StoreKey.parent(of: key)
        while parent != "/" {
            result.append(parent)
            parent = StoreKey.parent(of: parent)
        }
        return result
    }
}
