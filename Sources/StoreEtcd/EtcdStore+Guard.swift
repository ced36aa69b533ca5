import FleetStore
import Foundation

// A write's ``StoreGuard`` is two more compares in the write's own txn: the guard key's
// `create_revision` (and, when asked, its value). A lease refresh is a keep-alive here and a
// re-acquisition a new `create_revision`, so a holder's renewals never fail its own guard and
// a successor's term always does. The failure branch reads the guard key back as its last op,
// so a failed txn can say that the guard, not the write's own condition, is why.

extension EtcdCompare {
    static func createRevision(_ key: Data, equals revision: Int64) -> Self {
        Self(result: "EQUAL", target: "CREATE", key: key, createRevision: String(revision))
    }
}

extension EtcdStore {
    /// The guard's key, normalized; refuses a guard that cannot hold before anything is sent.
    ///
    /// etcd compares a missing key's `create_revision` as 0, so a guard on index 0 would hold for
    /// an absent key; no value is ever created at 0 (or above `Int64.max`), so it fails here.
    func checkedGuardKey(_ storeGuard: StoreGuard) throws -> String {
        let key = try StoreKey.normalize(storeGuard.key)
        guard storeGuard.createdIndex != 0, storeGuard.createdIndex <= UInt64(Int64.max) else {
            throw storeGuard.failure(createdIndex: nil, value: nil, index: knownIndex)
        }
        return key
    }

    /// The compares that make a txn hold only while `condition`'s guard does (none without one).
    func guardCompares(_ condition: StoreCondition) -> [EtcdCompare] {
        guard let storeGuard = condition.guardedBy, let key = try? StoreKey.normalize(storeGuard.key) else { return [] }
        let valueKey = keyspace.valueKey(key)
        var compares = [EtcdCompare.createRevision(valueKey, equals: Int64(clamping: storeGuard.createdIndex))]
        if let value = storeGuard.value { compares.append(.value(valueKey, equals: value)) }
        return compares
    }

    /// The read to append (last) to a failure branch or a read txn, so ``guardFailure(_:_:)`` can
    /// check the guard against what the txn saw.
    func guardProbe(_ condition: StoreCondition) -> [EtcdRequestOp] {
        guard let storeGuard = condition.guardedBy, let key = try? StoreKey.normalize(storeGuard.key) else { return [] }
        return [.range(EtcdRangeRequest(key: keyspace.valueKey(key)))]
    }

    /// The guard's failure when `response` (whose last op is ``guardProbe(_:)``) shows it does not hold.
    func guardFailure(_ condition: StoreCondition, _ response: EtcdTxnResponse) -> StoreError? {
        guard let storeGuard = condition.guardedBy else { return nil }
        let found = response.responses?.last?.range?.kvs?.first
        let created = found.map { UInt64(max(0, $0.createRevision.value)) }
        let index = UInt64(max(0, response.revision))
        guard !storeGuard.holds(createdIndex: created, value: found?.valueString) else { return nil }
        return storeGuard.failure(createdIndex: created, value: found?.valueString, index: index)
    }
}
