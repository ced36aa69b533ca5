import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// Why a write failed, told from its failure branch's probe in InMemoryStore's order: no etcd needed.
@Suite struct EtcdWriteFailureTests {
    func probe(file: String? = nil, subtree: Int64 = 0, fileAncestor: String? = nil) -> EtcdProbe {
        let kv = file.map {
            EtcdKeyValue(key: Data("/k".utf8), createRevision: EtcdInt(3), modRevision: EtcdInt(4), version: EtcdInt(2),
                         value: Data($0.utf8), lease: EtcdInt(0))
        }
        return EtcdProbe(revision: 9, file: kv, subtreeCount: subtree, oldestBelow: nil, marker: nil,
                         fileAncestor: fileAncestor)
    }

    func code(_ probe: EtcdProbe, value: Bool = true, _ condition: StoreCondition) -> StoreError.Code {
        EtcdStore.setFailure(probe, key: "/k", isValue: value, condition: condition).code
    }

    @Test func setFailuresMatchInMemoryStore() {
        #expect(code(probe(fileAncestor: "/a"), .none) == .notADirectory)
        #expect(code(probe(file: "1"), .mustNotExist) == .nodeExists)
        #expect(code(probe(), .mustExist) == .keyNotFound)
        #expect(code(probe(), StoreCondition(prevValue: "x")) == .keyNotFound)
        #expect(code(probe(subtree: 2), StoreCondition(prevIndex: 3)) == .notAFile)
        #expect(code(probe(subtree: 2), .none) == .notAFile)
        #expect(code(probe(subtree: 2), value: false, .none) == .notAFile)
        #expect(code(probe(subtree: 2), value: false, .mustNotExist) == .nodeExists)
        let mismatch = EtcdStore.setFailure(probe(file: "1"), key: "/k", isValue: true,
                                            condition: StoreCondition(prevIndex: 3, prevValue: "x"))
        #expect(mismatch.code == .compareFailed)
        #expect(mismatch.cause == "[x != 1] [3 != 4]")
        #expect(mismatch.index == 9)
    }
}
