import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// The key mapping: no etcd needed.
@Suite struct EtcdKeyspaceTests {
    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test func keysLiveUnderThePrefix() {
        let keyspace = EtcdKeyspace(prefix: "/fleet/")
        #expect(text(keyspace.valueKey("/a/b")) == "/fleet/a/b")
        #expect(text(keyspace.directoryKey("/a/b")) == "/fleet/a/b/")
        #expect(text(keyspace.subtreeEnd("/a/b")) == "/fleet/a/b0")
        #expect(text(keyspace.directoryKey("/")) == "/fleet/")
        #expect(text(keyspace.subtreeEnd("/")) == "/fleet0")
        #expect(keyspace.childrenStart("/a") == Data("/fleet/a/".utf8) + [0])
    }

    @Test func anEmptyPrefixUsesTheKeyspaceAsIs() {
        let keyspace = EtcdKeyspace(prefix: "")
        #expect(text(keyspace.valueKey("/a")) == "/a")
        #expect(text(keyspace.directoryKey("/")) == "/")
        #expect(text(keyspace.subtreeEnd("/")) == "0")
    }

    @Test func etcdKeysMapBackToFleetKeysAndMarkers() {
        let keyspace = EtcdKeyspace(prefix: "/fleet")
        #expect(keyspace.fleetKey(Data("/fleet/a/b".utf8))! == ("/a/b", false))
        #expect(keyspace.fleetKey(Data("/fleet/a/b/".utf8))! == ("/a/b", true))
        // Outside the prefix, the prefix itself, or not normalised: not fleet's.
        #expect(keyspace.fleetKey(Data("/other/a".utf8)) == nil)
        #expect(keyspace.fleetKey(Data("/fleet".utf8)) == nil)
        #expect(keyspace.fleetKey(Data("/fleetx/a".utf8)) == nil)
        #expect(keyspace.fleetKey(Data("/fleet//a".utf8)) == nil)
        #expect(keyspace.fleetKey(Data("/fleet/a/../b".utf8)) == nil)
    }

    @Test func ancestorsAreNearestFirstWithoutTheRoot() {
        #expect(EtcdKeyspace.ancestors(of: "/a/b/c") == ["/a/b", "/a"])
        #expect(EtcdKeyspace.ancestors(of: "/a") == [])
    }
}
