import Foundation

/// The key tree of a local store as a value: entries, the parent-to-children map, the global
/// index and the keys that carry a TTL, with etcd v2's write rules (`StoreTree+Writes.swift`).
///
/// ``InMemoryStore`` and ``EmbeddedStore`` both keep their keys in one, so there is one set of
/// write rules and both backends answer alike. Every change goes through two primitives,
/// ``put(_:_:)`` and ``removeSubtree(_:)``, which also journal it when the tree journals: the
/// embedded store hands exactly that journal to SQLite, and replays it onto its committed copy
/// of the tree once SQLite says it is on disk, so the disk and both copies apply the same result.
package struct StoreTree: Sendable {
    package struct Entry: Sendable, Hashable {
        package var value: String?
        package var createdIndex: UInt64
        package var modifiedIndex: UInt64
        package var expiration: Date?
        /// The key whose lifetime this one shares (``StoreWrite/attach(key:value:owner:condition:)``).
        package var owner: String?
        package var isDirectory: Bool { value == nil }

        package init(value: String?, createdIndex: UInt64, modifiedIndex: UInt64, expiration: Date? = nil,
                     owner: String? = nil) {
            self.value = value
            self.createdIndex = createdIndex
            self.modifiedIndex = modifiedIndex
            self.expiration = expiration
            self.owner = owner
        }
    }

    /// One row-level effect of a write, in the order it happened.
    package enum Change: Sendable, Hashable {
        /// `key` now holds `entry` (created or replaced).
        case put(key: String, entry: Entry)
        /// `key` and everything below it are gone.
        case removeSubtree(key: String)
    }

    package private(set) var entries: [String: Entry] = ["/": Entry(value: nil, createdIndex: 0, modifiedIndex: 0)]
    package private(set) var children: [String: SortedKeys] = ["/": []]
    /// The index of the latest change; moved only by the write rules, expiry and ``replay(_:index:)``.
    package var index: UInt64 = 0
    /// Keys that have an expiration, so finding due keys never walks keys without a TTL.
    private var expiring: Set<String> = []
    /// No key expires before this (a lower bound: removing or refreshing the earliest key does
    /// not raise it). It makes the check "is anything due?", run before every read and write,
    /// O(1); the exact minimum is recomputed only when the bound has passed.
    package private(set) var earliestExpiration: Date?
    /// Owner → the keys attached to it, so an owner's end finds them without a scan.
    private var attachments: [String: Set<String>] = [:]
    /// Owners removed (or turned into directories) whose attached keys are still to go; the
    /// write rules release them (``releaseOrphans()``) before the write or expiry returns.
    private var orphanedOwners: Set<String> = []
    /// Changes since the last ``takeChanges()``.
    private var journal: [Change] = []
    /// Whether changes are journaled at all: an in-memory store has no disk to hand them to.
    private let journaling: Bool

    package init(journaling: Bool = true) {
        self.journaling = journaling
    }

    /// Rebuilds a tree from rows read back from disk.
    ///
    /// Rows written by an older version that allowed more are tamed, not trusted: a key beyond
    /// ``StoreLimits``' depth or length is left out (its rows stay on disk until an ancestor is
    /// deleted; no request can name it any more), and a deadline is clamped into the range a
    /// reply can show, so neither a read nor start-up can trap on them.
    ///
    /// - Throws: a description of the first inconsistency (a key whose parent is missing or is
    ///   not a directory), which means the file was not written by this store.
    package init(restoring rows: [(key: String, entry: Entry)], index: UInt64) throws(InconsistentRows) {
        journaling = true
        for (key, row) in rows where key != "/" && Self.isWithinLimits(key) {
            var entry = row
            entry.expiration = entry.expiration.map(StoreLimits.clamp(expiration:))
            entries[key] = entry
        }
        var highest: UInt64 = 0
        // Each directory's children gathered first and sorted once (inserting them one by one
        // in a large directory would shift the rest each time).
        var unsorted: [String: [String]] = ["/": []]
        for (key, entry) in entries where key != "/" {
            let parent = StoreKey.parent(of: key)
            guard let parentEntry = entries[parent], parentEntry.isDirectory else {
                throw InconsistentRows(key: key, problem: "its parent '\(parent)' is missing or not a directory")
            }
            unsorted[parent, default: []].append(key)
            if entry.isDirectory, unsorted[key] == nil { unsorted[key] = [] }
            if let expiration = entry.expiration { noteExpiration(key, expiration) }
            if let owner = entry.owner { attachments[owner, default: []].insert(key) }
            highest = max(highest, entry.modifiedIndex, entry.createdIndex)
        }
        children = unsorted.mapValues { SortedKeys(sorting: $0) }
        // The stored index is authoritative (it also counts deletes and expiries); taking the
        // maximum only guards against a file edited by hand, so the index never goes backwards.
        self.index = max(index, highest)
        // An attached key whose owner is gone (a file edited by hand, rows left out above)
        // goes at the first write or expiry, as it would have with its owner.
        for owner in attachments.keys where entries[owner].map({ $0.isDirectory }) ?? true {
            orphanedOwners.insert(owner)
        }
    }

    /// True when `key` is no deeper and no longer than ``StoreKey/normalize(_:)`` accepts.
    /// Any ancestor of a key within the limits is within them too, so leaving keys out this way
    /// never orphans one that stays.
    package static func isWithinLimits(_ key: String) -> Bool {
        key.utf8.count <= StoreLimits.maximumKeyBytes
            && key.utf8.lazy.filter { $0 == UInt8(ascii: "/") }.count <= StoreLimits.maximumKeyDepth
    }

    package struct InconsistentRows: Error, CustomStringConvertible {
        package var key: String
        package var problem: String
        package var description: String { "key '\(key)': \(problem)" }
    }

    // MARK: Reads

    package func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The node at `key` (normalized) with `depth` levels of children (0: none, 1: one level as etcd lists).
    package func node(_ key: String, depth: Int) -> StoreNode {
        let entry = entries[key]!
        var result = StoreNode(key: key, value: entry.value, isDirectory: entry.isDirectory,
                               createdIndex: entry.createdIndex, modifiedIndex: entry.modifiedIndex,
                               expiration: entry.expiration)
        if entry.isDirectory && depth > 0 {
            result.nodes = (children[key] ?? []).map { node($0, depth: depth - 1) }
        }
        return result
    }

    // MARK: Expiry

    /// True when some key's deadline is at or before `now`. Tightens the lower bound as a side effect.
    package mutating func hasDueKeys(at now: Date) -> Bool {
        guard let bound = earliestExpiration, bound <= now else { return false }
        recomputeEarliestExpiration()
        return (earliestExpiration ?? .distantFuture) <= now
    }

    /// Removes every key whose TTL has run out, earliest deadline first (ties by key, so the
    /// order is the same on every run), each with an `expire` event at its own index.
    package mutating func expireDueKeys(at now: Date) -> [StoreEvent] {
        guard hasDueKeys(at: now) else { return [] }
        let due = expiring.compactMap { key -> (key: String, deadline: Date)? in
            guard let deadline = entries[key]?.expiration, deadline <= now else { return nil }
            return (key, deadline)
        }.sorted { ($0.deadline, $0.key) < ($1.deadline, $1.key) }
        var events: [StoreEvent] = []
        for (key, _) in due where entries[key] != nil {  // an expired directory took its children along
            events.append(end(key))
            events += releaseOrphans()
        }
        recomputeEarliestExpiration()
        return events
    }

    /// Removes `key` (and its subtree) as an expiry does, and returns its `expire` event.
    private mutating func end(_ key: String) -> StoreEvent {
        let prev = node(key, depth: 0)
        removeSubtree(key)
        index += 1
        return StoreEvent(action: .expire,
                          node: StoreNode(key: key, isDirectory: prev.isDirectory,
                                          createdIndex: prev.createdIndex, modifiedIndex: index),
                          prevNode: prev)
    }

    // MARK: Attached keys

    /// The number of keys attached to `owner`.
    package func attachedCount(_ owner: String) -> Int { attachments[owner]?.count ?? 0 }

    /// Ends every key attached to an owner that is gone, each with an `expire` event at its own
    /// index (in key order, so every copy of the tree does the same). Journaled like any removal.
    package mutating func releaseOrphans() -> [StoreEvent] {
        guard !orphanedOwners.isEmpty else { return [] }
        var events: [StoreEvent] = []
        for owner in orphanedOwners.sorted() {
            orphanedOwners.remove(owner)
            for key in (attachments[owner] ?? []).sorted() where entries[key]?.owner == owner {
                events.append(end(key))
            }
            attachments[owner] = nil
        }
        return events
    }

    /// The changes made since the last call, oldest first; the journal starts empty again.
    package mutating func takeChanges() -> [Change] {
        defer { journal = [] }
        return journal
    }

    /// Re-applies changes another copy of the tree made (and journaled) and moves to its index.
    package mutating func replay(_ changes: [Change], index: UInt64) {
        for change in changes {
            switch change {
            case let .put(key, entry): put(key, entry)
            case let .removeSubtree(key): removeSubtree(key)
            }
        }
        journal = []
        // The journal holds the releases the other copy made; nothing is left to release here.
        orphanedOwners = []
        self.index = index
    }

    // MARK: The two primitives

    package mutating func put(_ key: String, _ entry: Entry) {
        if journaling { journal.append(.put(key: key, entry: entry)) }
        let previousOwner = entries[key]?.owner
        entries[key] = entry
        if previousOwner != entry.owner {
            if let previousOwner { detach(key, from: previousOwner) }
            if let owner = entry.owner { attachments[owner, default: []].insert(key) }
        }
        if entry.isDirectory, attachments[key]?.isEmpty == false { orphanedOwners.insert(key) }
        children[StoreKey.parent(of: key), default: []].insert(key)
        if entry.isDirectory, children[key] == nil { children[key] = [] }
        if let expiration = entry.expiration {
            noteExpiration(key, expiration)
        } else {
            expiring.remove(key)
        }
    }

    package mutating func removeSubtree(_ key: String) {
        if journaling { journal.append(.removeSubtree(key: key)) }
        removeWithoutJournal(key)
        children[StoreKey.parent(of: key)]?.remove(key)
    }

    private mutating func removeWithoutJournal(_ key: String) {
        for child in children[key] ?? [] { removeWithoutJournal(child) }
        children[key] = nil
        if let owner = entries[key]?.owner { detach(key, from: owner) }
        if attachments[key]?.isEmpty == false { orphanedOwners.insert(key) }
        entries[key] = nil
        expiring.remove(key)
    }

    private mutating func detach(_ key: String, from owner: String) {
        attachments[owner]?.remove(key)
        if attachments[owner]?.isEmpty == true { attachments[owner] = nil }
    }

    private mutating func noteExpiration(_ key: String, _ expiration: Date) {
        expiring.insert(key)
        earliestExpiration = min(earliestExpiration ?? expiration, expiration)
    }

    private mutating func recomputeEarliestExpiration() {
        earliestExpiration = expiring.compactMap { entries[$0]?.expiration }.min()
    }
}
