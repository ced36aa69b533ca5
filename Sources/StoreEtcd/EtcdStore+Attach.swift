import FleetStore
import Foundation

// An attached key is put on its owner's lease: keeping the owner alive (one keep-alive) keeps
// every key attached to it alive, and when the lease runs out etcd deletes them all in the same
// revision as the owner. Two differences from the local stores, both documented in Docs.docc:
// deleting the owner (rather than letting it expire) leaves its attached keys until the lease
// runs out, and the "owner is not attached itself" rule is not checked (an owner on another
// key's lease just shares that lease).

/// What an attach needs to know of its owner: the lease to share, and the version it was read
/// at, which the write's txn compares so a rewritten owner (a new lease) is never missed.
struct EtcdOwner: Sendable {
    var key: String
    var lease: Int64
    var modRevision: Int64

    /// The owner changed between the read and the write: read it again.
    struct Moved: Error {}
}

extension EtcdStore {
    func attachValue(_ key: String, _ value: String, owner ownerKey: String,
                     condition: StoreCondition) async throws -> StoreEvent {
        for _ in 0..<4 {
            let owner: EtcdOwner
            if let cached = owners.withLock({ $0[ownerKey] }) {
                owner = cached
            } else {
                owner = try await readOwner(ownerKey, for: key)
            }
            do {
                return try await setValue(key, value, ttl: nil, condition: condition, attachedTo: owner)
            } catch is EtcdOwner.Moved {
                forget(ownerKey)
                continue
            } catch let error as StoreError where error.code == .keyNotFound {
                // Also what etcd says for a put on a lease that ran out: tell which key is gone.
                forget(ownerKey)
                let now = try await readOwner(ownerKey, for: key)
                if now.lease != owner.lease || now.modRevision != owner.modRevision { continue }
                throw error
            }
        }
        throw StoreError(.unavailable, "etcd: \(ownerKey) kept changing while \(key) was attached to it; retry",
                         index: knownIndex)
    }

    /// The owner's lease and version.
    /// - Throws: ``StoreError/Code/keyNotFound`` naming the owner when it is gone,
    ///   ``StoreError/Code/invalidField`` when it has no TTL (no lease to share).
    private func readOwner(_ ownerKey: String, for key: String) async throws -> EtcdOwner {
        let read = EtcdRangeRequest(key: keyspace.valueKey(ownerKey))
        let (response, _) = try await gateway.call("/v3/kv/range", read, as: EtcdRangeResponse.self)
        let index = UInt64(max(0, response.header?.revision.value ?? 0))
        guard let kv = response.kvs?.first else { throw StoreError(.keyNotFound, ownerKey, index: index) }
        guard kv.lease.value != 0 else {
            throw StoreError(.invalidField, "\(ownerKey) has no TTL, so it cannot own \(key)", index: index)
        }
        let owner = EtcdOwner(key: ownerKey, lease: kv.lease.value, modRevision: kv.modRevision.value)
        owners.withLock { owners in
            // One entry per machine in practice; the bound only keeps a misuse from growing it.
            if owners.count >= 4096 { owners.removeAll() }
            owners[ownerKey] = owner
        }
        return owner
    }

    private func forget(_ ownerKey: String) {
        _ = owners.withLock { $0.removeValue(forKey: ownerKey) }
    }
}
