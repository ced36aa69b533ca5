/// A directory's children in key order, kept that way as they come and go, so a read lists them
/// without sorting: ``StoreTree/node(_:depth:)`` sorted every directory's children on every
/// recursive read, 9 % of fleetd's CPU for a `GET /units` page with 200 units (the jobs
/// directory, read whole for each page), and the same on every snapshot a watch or a remote
/// machine reads.
///
/// Insertion and removal shift the keys after the slot (a memmove, cheap next to the store's
/// own work up to directories of tens of thousands of keys); a tree restored from disk sorts
/// each directory once instead (``init(sorting:)``).
package struct SortedKeys: Sendable, Sequence, ExpressibleByArrayLiteral {
    package private(set) var keys: [String]

    package init(sorting keys: some Sequence<String>) {
        self.keys = Array(Set(keys)).sorted()
    }

    package init(arrayLiteral keys: String...) { self.init(sorting: keys) }

    package var isEmpty: Bool { keys.isEmpty }
    package var count: Int { keys.count }

    package func contains(_ key: String) -> Bool {
        let slot = slot(of: key)
        return slot < keys.count && keys[slot] == key
    }

    /// Adds `key` in its place; nothing when it is there already.
    package mutating func insert(_ key: String) {
        let slot = slot(of: key)
        guard slot == keys.count || keys[slot] != key else { return }
        keys.insert(key, at: slot)
    }

    package mutating func remove(_ key: String) {
        let slot = slot(of: key)
        guard slot < keys.count, keys[slot] == key else { return }
        keys.remove(at: slot)
    }

    package func makeIterator() -> IndexingIterator<[String]> { keys.makeIterator() }

    /// The first index whose key is not less than `key` (binary search).
    private func slot(of key: String) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let middle = low + (high - low) / 2
            if keys[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
