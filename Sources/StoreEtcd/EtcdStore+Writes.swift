import FleetStore
import Foundation

// Every write is one etcd txn. Its compares hold the caller's condition and the tree's rules
// together, so the write is atomic; its failure branch reads back what the compares looked at
// (a "probe"), so a failed write can say why, in InMemoryStore's order of checks, without a
// second round trip and without a window in which the answer could change.
//
// When the gateway had to retry a write after an attempt that may have been applied (the
// connection broke after sending, or a member timed out while its leader died), a failed compare
// can be our own first attempt's doing. Such a write is taken as ours when the key now holds
// exactly what we wrote (and our lease, for a TTL write) at a revision newer than any we had
// seen before sending. That is certain for TTL writes (the lease is ours alone) and, for others,
// wrong only if another client wrote the same value to the same key in that same instant.

extension EtcdCompare {
    static func version(_ key: Data, rangeEnd: Data? = nil, _ result: String, _ version: Int64) -> Self {
        Self(result: result, target: "VERSION", key: key, rangeEnd: rangeEnd, version: String(version))
    }

    static func value(_ key: Data, equals value: String) -> Self {
        Self(result: "EQUAL", target: "VALUE", key: key, value: Data(value.utf8))
    }

    static func modRevision(_ key: Data, equals revision: Int64) -> Self {
        Self(result: "EQUAL", target: "MOD", key: key, modRevision: String(revision))
    }

    static func createRevision(_ key: Data, rangeEnd: Data, lessThan revision: Int64) -> Self {
        Self(result: "LESS", target: "CREATE", key: key, rangeEnd: rangeEnd, createRevision: String(revision))
    }
}

extension EtcdStore {
    // MARK: set, create, update, compare-and-swap

    /// Sets a value; with `ttl` on a lease of its own, or `attachedTo` an owner, on the owner's
    /// lease (the txn also checks that the owner is still the version that lease was read from).
    func setValue(_ key: String, _ value: String, ttl: Int64?, condition: StoreCondition,
                  attachedTo owner: EtcdOwner? = nil) async throws -> StoreEvent {
        let ancestors = EtcdKeyspace.ancestors(of: key)
        var compares = ancestors.map { EtcdCompare.version(keyspace.valueKey($0), "EQUAL", 0) }
        compares.append(.version(keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key), "EQUAL", 0))
        compares += conditionCompares(key, condition, prevExist: condition.prevExist)
        let probe = EtcdProbe.ops(key, ancestors: ancestors, in: keyspace)
        if ttl != nil, owner == nil, condition.prevExist == false {
            try await checkCreate(key, compares: compares, probe: probe, ancestors: ancestors, condition: condition)
        }
        let lease: Lease? = if let owner { Lease(id: owner.lease, ttl: 0) }
            else if let ttl { try await grantLease(ttl: ttl) } else { nil }
        if let owner {
            compares.append(.modRevision(keyspace.valueKey(owner.key), equals: owner.modRevision))
        }
        let put = EtcdPutRequest(key: keyspace.valueKey(key), value: Data(value.utf8),
                                 lease: lease.map { String($0.id) }, prevKV: true)
        let request = EtcdTxnRequest(compare: compares, success: [.put(put)],
                                     failure: probe + (owner.map { [.range(EtcdRangeRequest(key: keyspace.valueKey($0.key)))] } ?? [])
                                         + guardProbe(condition))
        let bound = gateway.lastRevision
        let (response, mayHaveRunBefore) = try await writeBatcher.submit(request)
        let action = Self.action(for: condition)
        // An attached key has no deadline of its own: it goes with its owner.
        let expiration = owner == nil ? lease.map { Date().addingTimeInterval(TimeInterval($0.ttl)) } : nil
        if response.didSucceed {
            let prev = response.responses?.first?.put?.prevKV
            let revision = UInt64(max(0, response.revision))
            let node = StoreNode(key: key, value: value, createdIndex: prev.map { UInt64(max(0, $0.createRevision.value)) } ?? revision,
                                 modifiedIndex: revision, expiration: expiration)
            return StoreEvent(action: action, node: node, prevNode: prev.map { EtcdTree.fileNode($0, key: key) })
        }
        let found = EtcdProbe(response, ancestors: ancestors)
        if mayHaveRunBefore, let file = found.file, file.valueString == value, file.lease.value == (lease?.id ?? 0),
           file.modRevision.value > bound
        {
            // Our earlier attempt did it (see the top of this file).
            var node = EtcdTree.fileNode(file, key: key)
            node.expiration = expiration
            let prev = await valueBefore(key, revision: file.modRevision.value)
            return StoreEvent(action: action, node: node, prevNode: prev.map { EtcdTree.fileNode($0, key: key) })
        }
        if let lease, owner == nil { await revokeLease(lease.id) }
        if let failure = guardFailure(condition, response) { throw failure }
        if let owner, response.range(probe.count)?.kvs?.first?.modRevision.value != owner.modRevision {
            throw EtcdOwner.Moved()
        }
        throw Self.setFailure(found, key: key, isValue: true, condition: condition)
    }

    /// Checks a create with a TTL before its lease is granted, with a read-only txn of the same
    /// compares: such creates mostly fail (every engine's wake-up tries to take the engine lease
    /// that one of them holds), and a failed one cost a lease grant, a txn and a revoke, three raft
    /// writes; the check is a read. Throws the create's own failure when the key is there.
    private func checkCreate(_ key: String, compares: [EtcdCompare], probe: [EtcdRequestOp], ancestors: [String],
                             condition: StoreCondition) async throws {
        let check = EtcdTxnRequest(compare: compares, success: [], failure: probe + guardProbe(condition))
        let (response, _) = try await readBatcher.submit(check)
        guard !response.didSucceed else { return }
        if let failure = guardFailure(condition, response) { throw failure }
        throw Self.setFailure(EtcdProbe(response, ancestors: ancestors), key: key, isValue: true, condition: condition)
    }

    // MARK: mkdir

    func makeDirectory(_ key: String, ttl: Int64?, condition: StoreCondition) async throws -> StoreEvent {
        // A lease on the marker would expire the marker alone and leave the keys below it, which
        // is not what a v2 directory TTL does; refusing is better than a silent difference.
        guard ttl == nil else {
            throw StoreError(.invalidField, "directory TTLs are not supported by the etcd store (\(key))",
                             index: knownIndex)
        }
        let ancestors = EtcdKeyspace.ancestors(of: key)
        let marker = keyspace.directoryKey(key), subtreeEnd = keyspace.subtreeEnd(key)
        var compares = ancestors.map { EtcdCompare.version(keyspace.valueKey($0), "EQUAL", 0) }
        var success: [EtcdRequestOp] = []
        if condition.prevExist == true {
            // updatedir: the directory must be there (and not be a value).
            compares.append(.version(marker, rangeEnd: subtreeEnd, "GREATER", 0))
            compares.append(.version(keyspace.valueKey(key), "EQUAL", 0))
        } else {
            // mkdir: no directory there yet; a value there is replaced, as in v2.
            compares.append(.version(marker, rangeEnd: subtreeEnd, "EQUAL", 0))
            success.append(.deleteRange(EtcdDeleteRangeRequest(key: keyspace.valueKey(key), prevKV: true)))
        }
        compares += conditionCompares(key, condition, prevExist: condition.prevExist == false ? false : nil)
        success.append(.put(EtcdPutRequest(key: marker, value: Data(), prevKV: true)))
        let request = EtcdTxnRequest(compare: compares, success: success,
                                     failure: EtcdProbe.ops(key, ancestors: ancestors, in: keyspace)
                                         + guardProbe(condition))
        let bound = gateway.lastRevision
        let (response, mayHaveRunBefore) = try await gateway.call("/v3/kv/txn", request, as: EtcdTxnResponse.self)
        let action = Self.action(for: condition)
        if response.didSucceed {
            let revision = UInt64(max(0, response.revision))
            let replacedFile = response.responses?.first?.deleteRange?.prevKVs?.first
            let previousMarker = response.responses?.last?.put?.prevKV
            let node = StoreNode(key: key, isDirectory: true,
                                 createdIndex: previousMarker.map { UInt64(max(0, $0.createRevision.value)) } ?? revision,
                                 modifiedIndex: revision)
            let prevNode = replacedFile.map { EtcdTree.fileNode($0, key: key) }
                ?? previousMarker.map { StoreNode(key: key, isDirectory: true, createdIndex: UInt64(max(0, $0.createRevision.value)),
                                                  modifiedIndex: UInt64(max(0, $0.modRevision.value))) }
            return StoreEvent(action: action, node: node, prevNode: prevNode)
        }
        let probe = EtcdProbe(response, ancestors: ancestors)
        if mayHaveRunBefore, let made = probe.marker, made.modRevision.value > bound {
            return StoreEvent(action: action, node: probe.directoryNode(key))
        }
        throw guardFailure(condition, response) ?? Self.setFailure(probe, key: key, isValue: false, condition: condition)
    }

    // MARK: delete, compare-and-delete

    func delete(_ key: String, directory: Bool, recursive: Bool, condition: StoreCondition) async throws -> StoreEvent {
        // Deleting a value is the common case and takes one txn; a directory takes a second,
        // guarded by what the first one's probe saw. If the key changes kind in between, start over.
        for _ in 0..<8 {
            var compares = [EtcdCompare.version(keyspace.valueKey(key), "GREATER", 0)]
            compares += conditionCompares(key, condition, prevExist: condition.prevExist)
            let request = EtcdTxnRequest(
                compare: compares,
                success: [.deleteRange(EtcdDeleteRangeRequest(key: keyspace.valueKey(key), prevKV: true))],
                failure: EtcdProbe.ops(key, ancestors: [], in: keyspace) + guardProbe(condition))
            let bound = gateway.lastRevision
            let (response, mayHaveRunBefore) = try await writeBatcher.submit(request)
            let action: StoreAction = condition.isCompare ? .compareAndDelete : .delete
            if response.didSucceed, let prev = response.responses?.first?.deleteRange?.prevKVs?.first {
                return StoreEvent(action: action,
                                  node: StoreNode(key: key, createdIndex: UInt64(max(0, prev.createRevision.value)),
                                                  modifiedIndex: UInt64(max(0, response.revision))),
                                  prevNode: EtcdTree.fileNode(prev, key: key))
            }
            // Checked first: had an ambiguous first attempt landed, it did so under the guard,
            // and reporting the guard's failure now only makes the caller stop a little early.
            if let failure = guardFailure(condition, response) { throw failure }
            let probe = EtcdProbe(response, ancestors: [])
            if let file = probe.file {
                throw Self.check(condition, file: file, isDirectory: false, key: key, index: probe.index)
                    ?? StoreError(.unavailable, "etcd: deleting \(key) failed a compare that holds", index: probe.index)
            }
            if !probe.isDirectory {
                if mayHaveRunBefore, let prev = await valueBefore(key, revision: bound.nextRevision) {
                    // It was there before we sent the delete and is gone now: our first attempt.
                    return StoreEvent(action: action,
                                      node: StoreNode(key: key, createdIndex: UInt64(max(0, prev.createRevision.value)),
                                                      modifiedIndex: probe.index),
                                      prevNode: EtcdTree.fileNode(prev, key: key))
                }
                throw StoreError(.keyNotFound, key, index: probe.index)
            }
            if condition.isCompare || (!directory && !recursive) { throw StoreError(.notAFile, key, index: probe.index) }
            if let error = Self.check(condition, file: nil, isDirectory: true, key: key, index: probe.index) { throw error }
            if let event = try await deleteDirectory(key, recursive: recursive, probe: probe, condition: condition) {
                return event
            }
        }
        throw StoreError(.unavailable, "etcd: \(key) kept changing between a value and a directory; retry",
                         index: knownIndex)
    }

    /// The second txn of a directory delete; nil when the directory changed since `probe`.
    private func deleteDirectory(_ key: String, recursive: Bool, probe: EtcdProbe,
                                 condition: StoreCondition) async throws -> StoreEvent? {
        let previous = probe.directoryNode(key)
        var compares = [EtcdCompare.version(keyspace.valueKey(key), "EQUAL", 0)] + guardCompares(condition)
        let delete: EtcdDeleteRangeRequest
        if recursive {
            delete = EtcdDeleteRangeRequest(key: keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key))
        } else {
            // Only a directory made explicitly can be empty: exactly its marker, nothing below it.
            guard probe.subtreeCount == 1, let marker = probe.marker else {
                throw StoreError(.directoryNotEmpty, key, index: probe.index)
            }
            compares.append(.modRevision(marker.key, equals: marker.modRevision.value))
            compares.append(.version(keyspace.childrenStart(key), rangeEnd: keyspace.subtreeEnd(key), "EQUAL", 0))
            delete = EtcdDeleteRangeRequest(key: marker.key)
        }
        let request = EtcdTxnRequest(compare: compares, success: [.deleteRange(delete)], failure: [])
        let (response, mayHaveRunBefore) = try await gateway.call("/v3/kv/txn", request, as: EtcdTxnResponse.self)
        guard response.didSucceed else { return nil }
        let deleted = response.responses?.first?.deleteRange?.deleted.value ?? 0
        // Nothing deleted: either our first attempt did it, or the directory vanished meanwhile.
        if deleted == 0 && !mayHaveRunBefore { return nil }
        return StoreEvent(action: .delete,
                          node: StoreNode(key: key, isDirectory: true, createdIndex: previous.createdIndex,
                                          modifiedIndex: UInt64(max(0, response.revision))),
                          prevNode: previous)
    }

    // MARK: in-order keys

    func createInOrder(below directory: String, _ value: String, ttl: Int64?) async throws -> StoreEvent {
        // v2 names the key by the index of its own creation. A v3 txn cannot know its revision
        // in advance, so the name is guessed as the current revision + 1 and the txn requires that
        // no key in the directory was created since: names then rise with creation order, never
        // collide, and equal the created index whenever no other write slipped in between.
        let guarded = directory == "/" ? [] : [directory] + EtcdKeyspace.ancestors(of: directory)
        let lease: Lease? = if let ttl { try await grantLease(ttl: ttl) } else { nil }
        var next = Int64(clamping: try await currentIndex()).nextRevision
        for _ in 0..<32 {
            let digits = String(next)
            let name = String(repeating: "0", count: max(0, 20 - digits.count)) + digits
            let key = directory == "/" ? "/" + name : directory + "/" + name
            var compares = guarded.map { EtcdCompare.version(keyspace.valueKey($0), "EQUAL", 0) }
            compares.append(.version(keyspace.valueKey(key), "EQUAL", 0))
            compares.append(.createRevision(keyspace.directoryKey(directory), rangeEnd: keyspace.subtreeEnd(directory),
                                            lessThan: next))
            let put = EtcdPutRequest(key: keyspace.valueKey(key), value: Data(value.utf8), lease: lease.map { String($0.id) })
            let failure: [EtcdRequestOp] = [.range(EtcdRangeRequest(key: keyspace.valueKey(key)))]
                + guarded.map { .range(EtcdRangeRequest(key: keyspace.valueKey($0), countOnly: true)) }
            let bound = gateway.lastRevision
            let (response, mayHaveRunBefore) = try await gateway.call(
                "/v3/kv/txn", EtcdTxnRequest(compare: compares, success: [.put(put)], failure: failure),
                as: EtcdTxnResponse.self)
            let expiration = lease.map { Date().addingTimeInterval(TimeInterval($0.ttl)) }
            if response.didSucceed {
                let revision = UInt64(max(0, response.revision))
                return StoreEvent(action: .create, node: StoreNode(key: key, value: value, createdIndex: revision,
                                                                   modifiedIndex: revision, expiration: expiration))
            }
            if let taken = response.range(0)?.kvs?.first, mayHaveRunBefore, taken.valueString == value,
               taken.lease.value == (lease?.id ?? 0), taken.modRevision.value > bound
            {
                var node = EtcdTree.fileNode(taken, key: key)
                node.expiration = expiration
                return StoreEvent(action: .create, node: node)
            }
            if let blocked = guarded.indices.first(where: { (response.range(1 + $0)?.count.value ?? 0) > 0 }) {
                if let lease { await revokeLease(lease.id) }
                throw StoreError(.notADirectory, guarded[blocked], index: UInt64(max(0, response.revision)))
            }
            next = max(next, response.revision).nextRevision
        }
        if let lease { await revokeLease(lease.id) }
        throw StoreError(.unavailable, "etcd: too many concurrent in-order creations in \(directory); retry",
                         index: knownIndex)
    }

    // MARK: helpers

    /// The compares for a condition on the value at `key` (`prevExist` passed separately, since
    /// directory writes handle it themselves), and for its guard.
    func conditionCompares(_ key: String, _ condition: StoreCondition, prevExist: Bool?) -> [EtcdCompare] {
        let valueKey = keyspace.valueKey(key)
        var compares: [EtcdCompare] = []
        switch prevExist {
        case true?: compares.append(.version(valueKey, "GREATER", 0))
        case false?: compares.append(.version(valueKey, "EQUAL", 0))
        case nil: break
        }
        if let prevValue = condition.prevValue { compares.append(.value(valueKey, equals: prevValue)) }
        if let prevIndex = condition.prevIndex, prevIndex != 0 {
            compares.append(.modRevision(valueKey, equals: Int64(clamping: prevIndex)))
        }
        return compares + guardCompares(condition)
    }

    static func action(for condition: StoreCondition) -> StoreAction {
        condition.prevExist == false ? .create
            : condition.isCompare ? .compareAndSwap
            : condition.prevExist == true ? .update : .set
    }

    /// Why a set failed, checked in InMemoryStore's order.
    static func setFailure(_ probe: EtcdProbe, key: String, isValue: Bool, condition: StoreCondition) -> StoreError {
        let index = probe.index
        if let ancestor = probe.fileAncestor { return StoreError(.notADirectory, ancestor, index: index) }
        if let error = check(condition, file: probe.file, isDirectory: probe.isDirectory && probe.file == nil,
                             key: key, index: index)
        {
            return error
        }
        // A directory is never replaced (etcd v2's "Not a file"), by a value or by a directory.
        if probe.isDirectory && (isValue || condition.prevExist != true) {
            return StoreError(.notAFile, key, index: index)
        }
        if !isValue && probe.file != nil { return StoreError(.notAFile, key, index: index) }
        return StoreError(.unavailable, "etcd: the write to \(key) failed a compare that holds; retry", index: index)
    }

    /// InMemoryStore's condition check against what a probe saw; nil when the condition holds.
    static func check(_ condition: StoreCondition, file: EtcdKeyValue?, isDirectory: Bool, key: String,
                      index: UInt64) -> StoreError?
    {
        let exists = file != nil || isDirectory
        if condition.prevExist == false, exists { return StoreError(.nodeExists, key, index: index) }
        if condition.prevExist == true, !exists { return StoreError(.keyNotFound, key, index: index) }
        guard condition.isCompare else { return nil }
        guard exists else { return StoreError(.keyNotFound, key, index: index) }
        guard let file else { return StoreError(.notAFile, key, index: index) }
        var wants: [String] = [], haves: [String] = []
        if let want = condition.prevValue, want != file.valueString {
            wants.append(want)
            haves.append(file.valueString)
        }
        if let want = condition.prevIndex, want != 0, Int64(clamping: want) != file.modRevision.value {
            wants.append(String(want))
            haves.append(String(file.modRevision.value))
        }
        guard !wants.isEmpty else { return nil }
        return StoreError(.compareFailed, StoreError.compareFailedCause(wants: wants, haves: haves),
                          index: index)
    }

    /// The value at `key` just before `revision`, if history still has it (for a `prevNode`).
    func valueBefore(_ key: String, revision: Int64) async -> EtcdKeyValue? {
        guard revision > 1 else { return nil }
        let request = EtcdRangeRequest(key: keyspace.valueKey(key), revision: String(revision - 1))
        return try? await gateway.call("/v3/kv/range", request, as: EtcdRangeResponse.self).response.kvs?.first
    }
}
