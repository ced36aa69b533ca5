import Foundation

/// The key tree of an ``EmbeddedStore`` as a value: entries, the parent-to-children map, the
/// global index and the keys that carry a TTL.
///
/// The write rules are ``InMemoryStore``'s, line for line, so both backends answer alike. What
/// is new is that every change goes through two primitives, ``put(_:_:)`` and
/// ``removeSubtree(_:)``, which also journal it: the store hands exactly that journal to SQLite,
/// and replays it onto its committed copy of the tree once SQLite says it is on disk. One set
/// of rules therefore decides a write, and the disk and both copies apply the same result.
struct EmbeddedTree: Sendable {
    struct Entry: Sendable, Hashable {
        var value: String?
        var createdIndex: UInt64
        var modifiedIndex: UInt64
        var expiration: Date?
        var isDirectory: Bool { value == nil }
    }

    /// One row-level effect of a write, in the order it happened.
    enum Change: Sendable, Hashable {
        /// `key` now holds `entry` (created or replaced).
        case put(key: String, entry: Entry)
        /// `key` and everything below it are gone.
        case removeSubtree(key: String)
    }

    private(set) var entries: [String: Entry] = ["/": Entry(value: nil, createdIndex: 0, modifiedIndex: 0)]
    private var children: [String: Set<String>] = ["/": []]
    /// The index of the latest change.
    private(set) var index: UInt64 = 0
    /// Keys that have an expiration, so finding due keys never walks keys without a TTL.
    private var expiring: Set<String> = []
    /// No key expires before this (a lower bound: removing or refreshing the earliest key does
    /// not raise it). It makes the check "is anything due?", run before every read and write,
    /// O(1); the exact minimum is recomputed only when the bound has passed.
    private(set) var earliestExpiration: Date?
    /// Changes since the last ``takeChanges()``.
    private var journal: [Change] = []

    init() {}

    /// Rebuilds a tree from rows read back from disk.
    ///
    /// Rows written by an older version that allowed more are tamed, not trusted: a key beyond
    /// ``StoreLimits``' depth or length is left out (its rows stay on disk until an ancestor is
    /// deleted; no request can name it any more), and a deadline is clamped into the range a
    /// reply can show, so neither a read nor start-up can trap on them.
    ///
    /// - Throws: a description of the first inconsistency (a key whose parent is missing or is
    ///   not a directory), which means the file was not written by this store.
    init(restoring rows: [(key: String, entry: Entry)], index: UInt64) throws(InconsistentRows) {
        for (key, row) in rows where key != "/" && Self.isWithinLimits(key) {
            var entry = row
            entry.expiration = entry.expiration.map(StoreLimits.clamp(expiration:))
            entries[key] = entry
        }
        var highest: UInt64 = 0
        for (key, entry) in entries where key != "/" {
            let parent = StoreKey.parent(of: key)
            guard let parentEntry = entries[parent], parentEntry.isDirectory else {
                throw InconsistentRows(key: key, problem: "its parent '\(parent)' is missing or not a directory")
            }
            children[parent, default: []].insert(key)
            if entry.isDirectory, children[key] == nil { children[key] = [] }
            if let expiration = entry.expiration { noteExpiration(key, expiration) }
            highest = max(highest, entry.modifiedIndex, entry.createdIndex)
        }
        // The stored index is authoritative (it also counts deletes and expiries); taking the
        // maximum only guards against a file edited by hand, so the index never goes backwards.
        self.index = max(index, highest)
    }

    /// True when `key` is no deeper and no longer than ``StoreKey/normalize(_:)`` accepts.
    /// Any ancestor of a key within the limits is within them too, so leaving keys out this way
    /// never orphans one that stays.
    static func isWithinLimits(_ key: String) -> Bool {
        key.utf8.count <= StoreLimits.maximumKeyBytes
            && key.utf8.lazy.filter { $0 == UInt8(ascii: "/") }.count <= StoreLimits.maximumKeyDepth
    }

    struct InconsistentRows: Error, CustomStringConvertible {
        var key: String
        var problem: String
        var description: String { "key '\(key)': \(problem)" }
    }

    // MARK: Reads

    func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The node at `key` (normalized) with `depth` levels of children (0: none, 1: one level as etcd lists).
    func node(_ key: String, depth: Int) -> StoreNode {
        let entry = entries[key]!
        var result = StoreNode(key: key, value: entry.value, isDirectory: entry.isDirectory,
                               createdIndex: entry.createdIndex, modifiedIndex: entry.modifiedIndex,
                               expiration: entry.expiration)
        if entry.isDirectory && depth > 0 {
            result.nodes = (children[key] ?? []).sorted().map { node($0, depth: depth - 1) }
        }
        return result
    }

    // MARK: Writes

    /// Applies `write` as ``InMemoryStore/apply(_:)`` does; `now` stamps TTL deadlines.
    ///
    /// Every check happens before the first change, so a write that throws leaves the tree and
    /// the journal exactly as they were.
    mutating func apply(_ write: StoreWrite, now: Date) throws(StoreError) -> StoreEvent {
        if let storeGuard = write.storeGuard {
            let entry = entries[try StoreKey.normalize(storeGuard.key)]
            let file = entry?.isDirectory == false ? entry : nil
            try storeGuard.check(createdIndex: file?.createdIndex, value: file?.value, index: index)
        }
        switch write {
        case let .set(key, value, ttl, condition):
            return try set(key: StoreKey.normalize(key), value: value, ttl: ttl, condition: condition, now: now)
        case let .refresh(key, ttl, condition):
            return try refresh(key: StoreKey.normalize(key), ttl: ttl, condition: condition, now: now)
        case let .createInOrder(key, value, ttl):
            let dir = try StoreKey.normalize(key)
            let name = String(repeating: "0", count: max(0, 20 - String(index + 1).count)) + String(index + 1)
            return try set(key: dir == "/" ? "/" + name : dir + "/" + name, value: value, ttl: ttl,
                           condition: .mustNotExist, now: now)
        case let .delete(key, directory, recursive, condition):
            return try delete(key: StoreKey.normalize(key), directory: directory, recursive: recursive,
                              condition: condition)
        }
    }

    /// True when some key's deadline is at or before `now`. Tightens the lower bound as a side effect.
    mutating func hasDueKeys(at now: Date) -> Bool {
        guard let bound = earliestExpiration, bound <= now else { return false }
        recomputeEarliestExpiration()
        return (earliestExpiration ?? .distantFuture) <= now
    }

    /// Removes every key whose TTL has run out, earliest deadline first (ties by key, so the
    /// order is the same on every run), each with an `expire` event at its own index.
    mutating func expireDueKeys(at now: Date) -> [StoreEvent] {
        guard hasDueKeys(at: now) else { return [] }
        let due = expiring.compactMap { key -> (key: String, deadline: Date)? in
            guard let deadline = entries[key]?.expiration, deadline <= now else { return nil }
            return (key, deadline)
        }.sorted { ($0.deadline, $0.key) < ($1.deadline, $1.key) }
        var events: [StoreEvent] = []
        for (key, _) in due where entries[key] != nil {  // an expired directory took its children along
            let prev = node(key, depth: 0)
            removeSubtree(key)
            index += 1
            events.append(StoreEvent(action: .expire,
                                     node: StoreNode(key: key, isDirectory: prev.isDirectory,
                                                     createdIndex: prev.createdIndex, modifiedIndex: index),
                                     prevNode: prev))
        }
        recomputeEarliestExpiration()
        return events
    }

    /// The changes made since the last call, oldest first; the journal starts empty again.
    mutating func takeChanges() -> [Change] {
        defer { journal = [] }
        return journal
    }

    /// Re-applies changes another copy of the tree made (and journaled) and moves to its index.
    mutating func replay(_ changes: [Change], index: UInt64) {
        for change in changes {
            switch change {
            case let .put(key, entry): put(key, entry)
            case let .removeSubtree(key): removeSubtree(key)
            }
        }
        journal = []
        self.index = index
    }

    // MARK: The write rules (InMemoryStore+Writes.swift, over put/removeSubtree)

    private mutating func set(key: String, value: String?, ttl: Int64?, condition: StoreCondition,
                              now: Date) throws(StoreError) -> StoreEvent {
        guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: index) }
        try checkAncestorsAreDirectories(key)
        let existing = entries[key]
        try check(condition, against: existing, key: key)
        // etcd v2 replaces a file but never a directory: setting one (with a value, or as a
        // directory again) is "Not a file"; only an update (prevExist=true) of a directory as a
        // directory goes through, to change its TTL.
        if let existing, existing.isDirectory, value != nil || condition.prevExist != true {
            throw StoreError(.notAFile, key, index: index)
        }
        let action: StoreAction = condition.prevExist == false ? .create
            : condition.isCompare ? .compareAndSwap
            : condition.prevExist == true ? .update : .set
        let prev = existing.map { _ in node(key, depth: 0) }
        index += 1
        createAncestors(of: key)
        let expiration = ttl.map { now.addingTimeInterval(TimeInterval($0)) }
        if var directory = existing, directory.isDirectory {
            directory.modifiedIndex = index
            directory.expiration = expiration
            put(key, directory)
        } else {
            put(key, Entry(value: value, createdIndex: existing?.createdIndex ?? index,
                           modifiedIndex: index, expiration: expiration))
        }
        return StoreEvent(action: existing == nil && action == .set ? .set : action,
                          node: node(key, depth: 0), prevNode: prev)
    }

    private mutating func refresh(key: String, ttl: Int64, condition: StoreCondition,
                                  now: Date) throws(StoreError) -> StoreEvent {
        // The root has no TTL to refresh and is read-only (InMemoryStore would stamp one on it).
        guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: index) }
        guard var entry = entries[key] else { throw StoreError(.keyNotFound, key, index: index) }
        try check(condition, against: entry, key: key)
        let prev = node(key, depth: 0)
        index += 1
        entry.modifiedIndex = index
        entry.expiration = now.addingTimeInterval(TimeInterval(ttl))
        put(key, entry)
        // The caller does not publish this event: a refresh must not wake watchers.
        return StoreEvent(action: .update, node: node(key, depth: 0), prevNode: prev)
    }

    private mutating func delete(key: String, directory: Bool, recursive: Bool,
                                 condition: StoreCondition) throws(StoreError) -> StoreEvent {
        guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: index) }
        guard let existing = entries[key] else { throw StoreError(.keyNotFound, key, index: index) }
        if existing.isDirectory {
            if condition.isCompare { throw StoreError(.notAFile, key, index: index) }
            if !directory && !recursive { throw StoreError(.notAFile, key, index: index) }
            if !recursive && !(children[key] ?? []).isEmpty {
                throw StoreError(.directoryNotEmpty, key, index: index)
            }
        }
        try check(condition, against: existing, key: key)
        let prev = node(key, depth: 0)
        removeSubtree(key)
        index += 1
        return StoreEvent(action: condition.isCompare ? .compareAndDelete : .delete,
                          node: StoreNode(key: key, isDirectory: existing.isDirectory,
                                          createdIndex: existing.createdIndex, modifiedIndex: index),
                          prevNode: prev)
    }

    private func check(_ condition: StoreCondition, against existing: Entry?, key: String) throws(StoreError) {
        if condition.prevExist == false, existing != nil { throw StoreError(.nodeExists, key, index: index) }
        if condition.prevExist == true, existing == nil { throw StoreError(.keyNotFound, key, index: index) }
        guard condition.isCompare else { return }
        guard let existing else { throw StoreError(.keyNotFound, key, index: index) }
        if existing.isDirectory { throw StoreError(.notAFile, key, index: index) }
        var wants: [String] = [], haves: [String] = []
        if let want = condition.prevValue, want != existing.value {
            wants.append(want)
            haves.append(existing.value ?? "")
        }
        if let want = condition.prevIndex, want != 0, want != existing.modifiedIndex {
            wants.append(String(want))
            haves.append(String(existing.modifiedIndex))
        }
        if !wants.isEmpty {
            let cause = StoreError.compareFailedCause(wants: wants, haves: haves)
            throw StoreError(.compareFailed, cause, index: index)
        }
    }

    private func checkAncestorsAreDirectories(_ key: String) throws(StoreError) {
        var parent = StoreKey.parent(of: key)
        while parent != "/" {
            if let entry = entries[parent], !entry.isDirectory {
                throw StoreError(.notADirectory, parent, index: index)
            }
            parent = StoreKey.parent(of: parent)
        }
    }

    /// Creates the missing directories above `key`, at the current index.
    private mutating func createAncestors(of key: String) {
        var missing: [String] = []
        var parent = StoreKey.parent(of: key)
        while entries[parent] == nil {
            missing.append(parent)
            parent = StoreKey.parent(of: parent)
        }
        // Top down, so each directory's parent exists when it is put (and when it is replayed).
        for directory in missing.reversed() {
            put(directory, Entry(value: nil, createdIndex: index, modifiedIndex: index))
        }
    }

    // MARK: The two primitives

    private mutating func put(_ key: String, _ entry: Entry) {
        journal.append(.put(key: key, entry: entry))
        entries[key] = entry
        children[StoreKey.parent(of: key), default: []].insert(key)
        if entry.isDirectory, children[key] == nil { children[key] = [] }
        if let expiration = entry.expiration {
            noteExpiration(key, expiration)
        } else {
            expiring.remove(key)
        }
    }

    private mutating func removeSubtree(_ key: String) {
        journal.append(.removeSubtree(key: key))
        removeWithoutJournal(key)
        children[StoreKey.parent(of: key)]?.remove(key)
    }

    private mutating func removeWithoutJournal(_ key: String) {
        for child in children[key] ?? [] { removeWithoutJournal(child) }
        children[key] = nil
        entries[key] = nil
        expiring.remove(key)
    }

    private mutating func noteExpiration(_ key: String, _ expiration: Date) {
        expiring.insert(key)
        earliestExpiration = min(earliestExpiration ?? expiration, expiration)
    }

    private mutating func recomputeEarliestExpiration() {
        earliestExpiration = expiring.compactMap { entries[$0]?.expiration }.min()
    }
}
