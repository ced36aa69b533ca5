import FleetStore
import Foundation

// TTLs are leases, one per key: a write with a TTL grants a lease and attaches it in the same txn
// as the value. A lease outlives the key it was granted for when the key is overwritten or
// deleted; it then holds nothing and etcd drops it at its TTL, so it is left alone rather than
// revoked (revoking costs a raft write on every heartbeat-style re-set).

extension EtcdStore {
    struct Lease: Sendable {
        var id: Int64
        /// What etcd granted: at least the cluster's minimum TTL.
        var ttl: Int64
    }

    func grantLease(ttl: Int64) async throws -> Lease {
        let want = max(1, ttl)
        let (response, _) = try await gateway.call("/v3/lease/grant", EtcdLeaseGrantRequest(ttl: String(want)),
                                                   as: EtcdLeaseGrantResponse.self)
        if let error = response.error, !error.isEmpty {
            throw StoreError(.unavailable, "etcd: granting a \(want) s lease failed: \(error)", index: knownIndex)
        }
        if response.ttl.value > want {
            // etcd raised the TTL to its minimum (1.5 election timeouts, rounded up to seconds).
            leaseTTLFloor.withLock { $0 = max($0, response.ttl.value) }
        }
        return Lease(id: response.id.value, ttl: response.ttl.value)
    }

    /// Renews a lease once; returns its granted TTL, or 0 when it has expired (or never existed).
    func keepAlive(_ lease: Int64) async throws -> Int64 {
        let (line, _) = try await gateway.call("/v3/lease/keepalive", EtcdLeaseIDRequest(id: String(lease)),
                                               as: EtcdStreamLine<EtcdLeaseTTLResponse>.self)
        if let error = line.error {
            throw StoreError(.unavailable, "etcd: keeping lease \(lease) alive failed: \(error.message ?? "?")",
                             index: knownIndex)
        }
        return line.result?.ttl.value ?? 0
    }

    /// Seconds left on a lease, or nil when it is gone (expired or revoked).
    func timeToLive(_ lease: Int64) async throws -> Int64? {
        let (response, _) = try await gateway.call("/v3/lease/timetolive", EtcdLeaseIDRequest(id: String(lease)),
                                                   as: EtcdLeaseTTLResponse.self)
        return response.ttl.value >= 0 ? response.ttl.value : nil
    }

    func expiration(ofLease lease: Int64) async throws -> Date? {
        try await timeToLive(lease).map { Date().addingTimeInterval(TimeInterval($0)) }
    }

    /// Revokes a lease nobody will use (its write failed). Best effort: an unrevoked lease with
    /// no keys merely lingers until its TTL.
    func revokeLease(_ lease: Int64) async {
        _ = try? await gateway.call("/v3/lease/revoke", EtcdLeaseIDRequest(id: String(lease)), as: EtcdEmptyResponse.self)
    }

    /// The TTL etcd would grant for `ttl`.
    func effectiveTTL(_ ttl: Int64) -> Int64 {
        max(max(1, ttl), leaseTTLFloor.withLock { $0 })
    }

    /// Resets the TTL of `key` without changing its value and without waking watchers.
    ///
    /// When the key's lease was granted for the TTL asked for, this is one keep-alive of that
    /// lease, which etcd handles without a revision, so no watcher hears of it and the node's
    /// `modifiedIndex` stays (InMemoryStore moves it). A key without a lease, or with one for a
    /// different TTL, needs a new lease attached by a put: that is a revision and watchers see
    /// it as a `set`.
    func refresh(_ key: String, ttl: Int64, condition: StoreCondition) async throws -> StoreEvent {
        for _ in 0..<8 {
            let read = EtcdTxnRequest(compare: [], success: [
                .range(EtcdRangeRequest(key: keyspace.valueKey(key))),
                .range(EtcdRangeRequest(key: keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key),
                                        countOnly: true)),
            ] + guardProbe(condition), failure: [])
            let (response, _) = try await gateway.call("/v3/kv/txn", read, as: EtcdTxnResponse.self)
            let index = UInt64(max(0, response.revision))
            // A keep-alive cannot sit in a txn, so the guard is checked by this read; the
            // keep-alive changes no data, and the put below carries the guard itself.
            if let failure = guardFailure(condition, response) { throw failure }
            guard let file = response.range(0)?.kvs?.first else {
                let isDirectory = (response.range(1)?.count.value ?? 0) > 0
                if isDirectory, let error = Self.check(condition, file: nil, isDirectory: true, key: key, index: index) {
                    throw error
                }
                if isDirectory {
                    throw StoreError(.invalidField, "directory TTLs are not supported by the etcd store (\(key))",
                                     index: index)
                }
                throw StoreError(.keyNotFound, key, index: index)
            }
            if let error = Self.check(condition, file: file, isDirectory: false, key: key, index: index) { throw error }
            let previous = EtcdTree.fileNode(file, key: key)
            let want = max(1, ttl)
            if file.lease.value != 0 {
                let granted = try await keepAlive(file.lease.value)
                if granted == 0 {
                    // The lease ran out before we renewed it: the key is (being) deleted by etcd.
                    throw StoreError(.keyNotFound, key, index: knownIndex)
                }
                if granted == effectiveTTL(want) {
                    var node = previous
                    node.expiration = Date().addingTimeInterval(TimeInterval(granted))
                    return StoreEvent(action: .update, node: node, prevNode: previous)
                }
            }
            let lease = try await grantLease(ttl: want)
            let put = EtcdTxnRequest(
                compare: [.modRevision(keyspace.valueKey(key), equals: file.modRevision.value)] + guardCompares(condition),
                success: [.put(EtcdPutRequest(key: keyspace.valueKey(key), lease: String(lease.id), ignoreValue: true))],
                failure: [])
            let (written, _) = try await gateway.call("/v3/kv/txn", put, as: EtcdTxnResponse.self)
            if written.didSucceed {
                var node = previous
                node.modifiedIndex = UInt64(max(0, written.revision))
                node.expiration = Date().addingTimeInterval(TimeInterval(lease.ttl))
                return StoreEvent(action: .update, node: node, prevNode: previous)
            }
            // The key changed meanwhile (or an ambiguous first attempt attached the lease, which
            // the next read's keep-alive then finds): read again.
            await revokeLeaseUnlessAttached(lease.id, key: key)
        }
        throw StoreError(.unavailable, "etcd: \(key) kept changing during a refresh; retry", index: knownIndex)
    }

    private func revokeLeaseUnlessAttached(_ lease: Int64, key: String) async {
        let read = EtcdRangeRequest(key: keyspace.valueKey(key))
        if let kv = try? await gateway.call("/v3/kv/range", read, as: EtcdRangeResponse.self).response.kvs?.first,
           kv.lease.value == lease
        {
            return
        }
        await revokeLease(lease)
    }
}
