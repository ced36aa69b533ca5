extension StoreError {
    /// Why `key` (normalized, not in the tree) cannot be read, as etcd v2 walks the path: the
    /// first component that is a value makes it "Not a directory" (104, 400) naming that value;
    /// otherwise "Key not found" (100, 404) naming the first component that is missing.
    ///
    /// - Parameter kind: for a path, nil when absent, true for a directory, false for a value.
    package static func missing(_ key: String, index: UInt64, kind: (String) -> Bool?) -> StoreError {
        var path = ""
        for component in key.split(separator: "/") {
            path += "/" + component
            switch kind(path) {
            case nil: return StoreError(.keyNotFound, path, index: index)
            case false?: if path != key { return StoreError(.notADirectory, path, index: index) }
            case true?: continue
            }
        }
        return StoreError(.keyNotFound, key, index: index)
    }
}

extension StoreError {
    /// etcd v2's cause for a failed compare: `[want != have]` for each mismatch, the value's
    /// first (`[x != 1] [3 != 4]` when both differ).
    public static func compareFailedCause(wants: [String], haves: [String]) -> String {
        zip(wants, haves).map { "[\($0) != \($1)]" }.joined(separator: " ")
    }
}
