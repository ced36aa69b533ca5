import FleetStore
import Foundation

/// What the failure branch of a write read back about its key, at the txn's revision.
struct EtcdProbe {
    var revision: Int64
    /// The value at the key, if it is a value.
    var file: EtcdKeyValue?
    /// Keys in the key's subtree (marker included): more than 0 means it is a directory.
    var subtreeCount: Int64
    /// The oldest key of the subtree: an implied directory's creation.
    var oldestBelow: EtcdKeyValue?
    /// The key's directory marker, if it was made explicitly.
    var marker: EtcdKeyValue?
    /// The nearest ancestor that holds a value (which makes the key impossible).
    var fileAncestor: String?

    var isDirectory: Bool { subtreeCount > 0 }
    var exists: Bool { file != nil || isDirectory }
    var index: UInt64 { UInt64(max(0, revision)) }

    /// The read ops a write's failure branch runs; `Self.init(_:key:ancestors:)` reads their answers.
    static func ops(_ key: String, ancestors: [String], in keyspace: EtcdKeyspace) -> [EtcdRequestOp] {
        [
            .range(EtcdRangeRequest(key: keyspace.valueKey(key))),
            .range(EtcdRangeRequest(key: keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key), limit: "1",
                                    sortOrder: "ASCEND", sortTarget: "CREATE")),
            .range(EtcdRangeRequest(key: keyspace.directoryKey(key))),
        ] + ancestors.map { .range(EtcdRangeRequest(key: keyspace.valueKey($0), countOnly: true)) }
    }

    /// The key as the directory it is (no children), as an event's `prevNode` shows it.
    func directoryNode(_ key: String) -> StoreNode {
        let created = marker?.createRevision.value ?? oldestBelow?.createRevision.value ?? 0
        let modified = marker?.modRevision.value ?? created
        return StoreNode(key: key, isDirectory: true, createdIndex: UInt64(max(0, created)),
                         modifiedIndex: UInt64(max(0, modified)))
    }
}

extension EtcdProbe {
    /// Reads the answers of `ops(_:ancestors:in:)` from a failed txn.
    init(_ response: EtcdTxnResponse, ancestors: [String]) {
        revision = response.revision
        file = response.range(0)?.kvs?.first
        subtreeCount = response.range(1)?.count.value ?? 0
        oldestBelow = response.range(1)?.kvs?.first
        marker = response.range(2)?.kvs?.first
        fileAncestor = ancestors.indices.first { (response.range(3 + $0)?.count.value ?? 0) > 0 }.map { ancestors[$0] }
    }
}
