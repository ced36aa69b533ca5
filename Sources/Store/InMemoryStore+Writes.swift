import Foundation

extension InMemoryStore {
    func set(key: String, value: String?, ttl: Int64?, condition: StoreCondition) throws -> StoreEvent {
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
        let expiration = ttl.map { now().addingTimeInterval(TimeInterval($0)) }
        if let expiration { earliestExpiration = min(earliestExpiration, expiration) }
        if existing?.isDirectory == true {
            entries[key]!.modifiedIndex = index
            entries[key]!.expiration = expiration
        } else {
            entries[key] = Entry(value: value, createdIndex: existing?.createdIndex ?? index,
                                 modifiedIndex: index, expiration: expiration)
            if value == nil { children[key] = children[key] ?? [] }
            children[StoreKey.parent(of: key), default: []].insert(key)
        }
        let event = StoreEvent(action: existing == nil && action == .set ? .set : action,
                               node: node(key, depth: 0), prevNode: prev)
        publish(event)
        return event
    }

    func refresh(key: String, ttl: Int64, condition: StoreCondition) throws -> StoreEvent {
        guard let existing = entries[key] else { throw StoreError(.keyNotFound, key, index: index) }
        try check(condition, against: existing, key: key)
        let prev = node(key, depth: 0)
        index += 1
        entries[key]!.modifiedIndex = index
        let expiration = now().addingTimeInterval(TimeInterval(ttl))
        entries[key]!.expiration = expiration
        earliestExpiration = min(earliestExpiration, expiration)
        // A refresh is deliberately not published: it must not wake watchers.
        return StoreEvent(action: .update, node: node(key, depth: 0), prevNode: prev)
    }

    func delete(key: String, directory: Bool, recursive: Bool, condition: StoreCondition) throws -> StoreEvent {
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
        let event = StoreEvent(action: condition.isCompare ? .compareAndDelete : .delete,
                               node: StoreNode(key: key, isDirectory: existing.isDirectory,
                                               createdIndex: existing.createdIndex, modifiedIndex: index),
                               prevNode: prev)
        publish(event)
        return event
    }

    private func check(_ condition: StoreCondition, against existing: Entry?, key: String) throws {
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

    private func checkAncestorsAreDirectories(_ key: String) throws {
        var parent = StoreKey.parent(of: key)
        while parent != "/" {
            if let entry = entries[parent], !entry.isDirectory {
                throw StoreError(.notADirectory, parent, index: index)
            }
            parent = StoreKey.parent(of: parent)
        }
    }

    private func createAncestors(of key: String) {
        var child = key
        var parent = StoreKey.parent(of: key)
        while true {
            children[parent, default: []].insert(child)
            if entries[parent] != nil { break }
            entries[parent] = Entry(value: nil, createdIndex: index, modifiedIndex: index)
            child = parent
            parent = StoreKey.parent(of: parent)
        }
    }

    func removeSubtree(_ key: String) {
        for child in children[key] ?? [] { removeSubtree(child) }
        children[key] = nil
        entries[key] = nil
        children[StoreKey.parent(of: key)]?.remove(key)
    }

    /// The node at `key` with `depth` levels of children (0: none, 1: one level as etcd lists).
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
}
