import Foundation

/// etcd v2's write rules, the only copy: every local backend applies its writes here.
extension StoreTree {
    // MARK: Writes

    /// What one write did: its own event, and the `expire` events of keys attached to an owner
    /// it removed, which a backend publishes after it.
    package struct Outcome: Sendable {
        package var event: StoreEvent
        package var released: [StoreEvent]
    }

    /// Applies `write` (already validated, due keys already expired); `now` stamps TTL deadlines.
    ///
    /// Every check happens before the first change, so a write that throws leaves the tree and
    /// the journal exactly as they were.
    package mutating func apply(_ write: StoreWrite, now: Date) throws(StoreError) -> Outcome {
        let event = try applyRules(write, now: now)
        return Outcome(event: event, released: releaseOrphans())
    }

    private mutating func applyRules(_ write: StoreWrite, now: Date) throws(StoreError) -> StoreEvent {
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
        case let .attach(key, value, owner, condition):
            let key = try StoreKey.normalize(key), owner = try StoreKey.normalize(owner)
            try checkCanAttach(key, to: owner)
            return try set(key: key, value: value, ttl: nil, condition: condition, now: now, owner: owner)
        case let .delete(key, directory, recursive, condition):
            return try delete(key: StoreKey.normalize(key), directory: directory, recursive: recursive,
                              condition: condition)
        }
    }

    // MARK: The write rules, over put/removeSubtree

    /// An owner is a value with a TTL that is not attached itself, and a key that owns others
    /// cannot be attached: lifetimes form one level, so an owner's end never cascades further.
    private func checkCanAttach(_ key: String, to owner: String) throws(StoreError) {
        guard let found = entries[owner] else { throw StoreError(.keyNotFound, owner, index: index) }
        if found.isDirectory { throw StoreError(.notAFile, owner, index: index) }
        if found.expiration == nil {
            throw StoreError(.invalidField, "\(owner) has no TTL, so it cannot own \(key)", index: index)
        }
        if found.owner != nil {
            throw StoreError(.invalidField, "\(owner) is attached to \(found.owner ?? ""), so it cannot own \(key)",
                             index: index)
        }
        if attachedCount(key) > 0 {
            throw StoreError(.invalidField, "\(key) owns other keys, so it cannot be attached to \(owner)", index: index)
        }
    }

    private mutating func set(key: String, value: String?, ttl: Int64?, condition: StoreCondition,
                              now: Date, owner: String? = nil) throws(StoreError) -> StoreEvent {
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
                           modifiedIndex: index, expiration: expiration, owner: owner))
        }
        return StoreEvent(action: existing == nil && action == .set ? .set : action,
                          node: node(key, depth: 0), prevNode: prev)
    }

    private mutating func refresh(key: String, ttl: Int64, condition: StoreCondition,
                                  now: Date) throws(StoreError) -> StoreEvent {
        // The root has no TTL to refresh and is read-only.
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
}
