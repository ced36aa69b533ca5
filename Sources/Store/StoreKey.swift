/// Keys are slash-separated paths, as in etcd's v2 keys API: `/fleet/job/web.service/object`.
///
/// Every key a caller hands to a store goes through ``StoreKey/normalize(_:)`` first, so that
/// `fleet//job/` and `/fleet/job` name the same node and `..` can never climb out of a prefix.
public enum StoreKey {
    /// The canonical form of `raw`: a leading `/`, no empty or `.` components, no trailing `/`.
    ///
    /// - Throws: ``StoreError/Code/invalidKey`` when a component is `..`, or the key has more
    ///   than ``StoreLimits/maximumKeyDepth`` components or more than
    ///   ``StoreLimits/maximumKeyBytes`` bytes (deeper keys would make every tree walk and JSON
    ///   answer recurse without bound).
    public static func normalize(_ raw: String) throws(StoreError) -> String {
        // Nearly every key arrives canonical already (fleet's own keys all do): one pass over
        // its bytes says so, and it is returned as it is, without splitting and joining (this
        // was 5 % of the store machine's CPU while it started 200 units).
        if isCanonical(raw) { return raw }
        return try normalizeBySplitting(raw)
    }

    /// ``normalize(_:)`` for any key: its components, cleaned, joined again.
    static func normalizeBySplitting(_ raw: String) throws(StoreError) -> String {
        var parts: [Substring] = []
        var bytes = 0
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw StoreError(.invalidKey, "key '\(Self.excerpt(raw))' may not contain '..'") }
            parts.append(part)
            bytes += 1 + part.utf8.count
            if parts.count > StoreLimits.maximumKeyDepth {
                throw StoreError(.invalidKey, "key '\(Self.excerpt(raw))' has more than "
                                 + "\(StoreLimits.maximumKeyDepth) components")
            }
            if bytes > StoreLimits.maximumKeyBytes {
                throw StoreError(.invalidKey, "key '\(Self.excerpt(raw))' is longer than "
                                 + "\(StoreLimits.maximumKeyBytes) bytes")
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// True when `raw` is what ``normalize(_:)`` would make of it: `/`, or `/`-separated
    /// ASCII components that are neither empty, `.` nor `..`, within the depth and length limits.
    /// Only ASCII: splitting a `String` goes by characters, and a slash followed by a combining
    /// mark is one character, not a separator, so such a key is left to the splitting.
    static func isCanonical(_ raw: String) -> Bool { isCanonical(bytes: raw.utf8) }

    /// ``isCanonical(_:)`` for a key's UTF-8 bytes (the etcd backend checks keys as it reads
    /// them off the wire, without making strings).
    @inlinable
    public static func isCanonical<Bytes: Collection<UInt8>>(bytes: Bytes) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard bytes.first == slash, bytes.count <= StoreLimits.maximumKeyBytes else { return false }
        if bytes.count == 1 { return true }
        var components = 0, length = 0, dots = 0  // the current component's length and its dots
        for byte in bytes.dropFirst() {
            guard byte < 0x80 else { return false }
            if byte == slash {
                // An empty component, or one that is `.` or `..`, is not canonical.
                guard length > 0, dots != length || length > 2 else { return false }
                components += 1
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == dot { dots += 1 }
            }
        }
        guard length > 0, dots != length || length > 2 else { return false }  // no trailing `/`
        return components + 1 <= StoreLimits.maximumKeyDepth
    }

    /// The start of a key for an error message, so an oversized key does not make an oversized answer.
    static func excerpt(_ raw: String) -> String {
        raw.utf8.count <= 100 ? raw : String(raw.prefix(100)) + "..."
    }

    /// `/a/b/c` → `/a/b`; the root's parent is the root.
    public static func parent(of key: String) -> String {
        guard let slash = key.lastIndex(of: "/"), slash != key.startIndex else { return "/" }
        return String(key[..<slash])
    }

    /// True when `key` is `prefix` itself or lies below it.
    public static func isWithin(_ key: String, _ prefix: String) -> Bool {
        if prefix == "/" { return true }
        return key == prefix || key.hasPrefix(prefix + "/")
    }

    /// Whether ``basename(of:)`` of `key` is `name`, comparing bytes (as the store compares
    /// keys) without making a string: registry reads look up each unit's few children this way.
    public static func lastSegment(of key: String, is name: String) -> Bool {
        let bytes = key.utf8, wanted = name.utf8, slash = UInt8(ascii: "/")
        guard bytes.count > wanted.count else {
            return bytes.count == wanted.count && !bytes.contains(slash) && bytes.elementsEqual(wanted)
        }
        let start = bytes.index(bytes.endIndex, offsetBy: -wanted.count)
        return bytes[bytes.index(before: start)] == slash && !wanted.contains(slash) && bytes[start...].elementsEqual(wanted)
    }

    /// `/a/b/c` → `c`.
    public static func basename(of key: String) -> String {
        guard let slash = key.lastIndex(of: "/") else { return key }
        return String(key[key.index(after: slash)...])
    }
}
