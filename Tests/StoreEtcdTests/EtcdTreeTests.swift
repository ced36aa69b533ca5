import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// v2's tree rebuilt from flat keys: no etcd needed.
@Suite struct EtcdTreeTests {
    func kv(_ key: String, _ value: String = "", create: Int64, mod: Int64? = nil) -> EtcdKeyValue {
        EtcdKeyValue(key: Data(("/p" + key).utf8), createRevision: EtcdInt(create), modRevision: EtcdInt(mod ?? create),
                     version: EtcdInt(1), value: Data(value.utf8), lease: EtcdInt(0))
    }

    func tree(_ key: String, _ kvs: [EtcdKeyValue]) -> EtcdTree {
        let keyspace = EtcdKeyspace(prefix: "/p")
        let tree = EtcdTree(key: key)
        for kv in kvs {
            let (fleetKey, isMarker) = keyspace.fleetKey(kv.key)!
            tree.add(kv, fleetKey: fleetKey, isMarker: isMarker)
        }
        return tree
    }

    @Test func oneLevelListsChildrenWithoutGrandchildren() {
        let node = tree("/d", [kv("/d/b", "2", create: 5), kv("/d/a", "1", create: 7), kv("/d/sub/c", "3", create: 4)])
            .node(depth: 1)
        #expect(node.isDirectory)
        #expect(node.nodes?.map(\.key) == ["/d/a", "/d/b", "/d/sub"])
        #expect(node.child("sub")?.isDirectory == true)
        #expect(node.child("sub")?.nodes == nil)
        // An implied directory dates from the oldest key below it.
        #expect(node.createdIndex == 4)
        #expect(node.child("sub")?.createdIndex == 4)
    }

    @Test func recursiveReadsEveryLevelAndMarkersGiveIndexes() {
        let node = tree("/", [kv("/m/", create: 2, mod: 3), kv("/m/x/y", "v", create: 9)]).node(depth: .max)
        let marked = node.child("m")
        #expect(marked?.createdIndex == 2)
        #expect(marked?.modifiedIndex == 3)
        #expect(node.leaves.map(\.value) == ["v"])
        let empty = tree("/e", [kv("/e/", create: 6)]).node(depth: .max)
        #expect(empty.nodes == [])
        #expect(empty.createdIndex == 6)
    }

    @Test func aValueHidesADirectoryOfTheSameName() {
        let node = tree("/", [kv("/k", "value", create: 1), kv("/k/below", "x", create: 2)]).node(depth: .max)
        #expect(node.nodes?.count == 1)
        #expect(node.child("k")?.value == "value")
    }
}
