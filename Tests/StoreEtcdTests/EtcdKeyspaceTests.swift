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

    /// The byte-level check every read and event goes through agrees with the reference (the
    /// decoded text through `StoreKey.normalize`) on edge cases and on random keys.
    @Test func theQuickKeyCheckAgreesWithNormalize() {
        let keyspace = EtcdKeyspace(prefix: "/fleet")
        func same(_ rest: [UInt8]) -> Bool {
            let key = Data("/fleet".utf8) + rest
            let quick = keyspace.fleetKey(key), reference = keyspace.decodedFleetKey(key)
            return quick?.key == reference?.key && quick?.isMarker == reference?.isMarker
        }
        var edges: [String] = ["", "/", "//", "/a", "/a/", "/a//", "//a", "/a/b", "/.", "/..", "/...", "/a/./b",
                               "/a/../b", "/.a", "/a.", "/a/..b", "/a/b/", "/a/b//", "/./", "/../"]
        let long = String(repeating: "x", count: 4095), deep = String(repeating: "/a", count: 64)
        edges += ["/" + long, "/x" + long, deep, deep + "/a", deep + "/"]
        for edge in edges { #expect(same(Array(edge.utf8)), "\(edge.prefix(40))") }
        #expect(same([0x2F, 0xC3, 0xA9]) && same([0x2F, 0xFF, 0x2F, 0x2E]) && same([0x2F, 0x61, 0x00]))
        var random = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x2F, 0x2F, 0x2E, 0x2E, 0x61, 0x62]
        for _ in 0..<5000 {
            let rest = (0..<Int.random(in: 0...9, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            #expect(same(rest), "\(rest)")
        }
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
