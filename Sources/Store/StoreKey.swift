/// Keys are slash-separated paths, as in etcd's v2 keys API: `/fleet/job/web.service/object`.
///
/// Every key a caller hands to a store goes through ``StoreKey/normalize(_:)`` first, so that
/// `fleet//job/` and `/fleet/job` name the same node and `..` can never climb out of a prefix.
public enum StoreKey {
    /// The canonical form of `raw`: a leading `/`, no empty or `.` components, no trailing `/`.
    ///
    /// - Throws: ``StoreError/Code/invalidKey`` when a component is `..`.
    public static func normalize(_ raw: String) throws(StoreError) -> String {
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw StoreError(.invalidKey, "key '\(raw)' may not contain '..'") }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
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

    /// `/a/b/c` → `c`.
    public static func basename(of key: String) -> String {
        guard let slash = key.lastIndex(of: "/") else { return key }
        return String(key[key.index(after: slash)...])
    }
}
