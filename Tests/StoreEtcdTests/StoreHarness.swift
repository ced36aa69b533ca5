import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// Every suite that needs the etcd cluster nests in here, so they run one at a time: etcd's
/// revision is shared by the whole cluster (a test that checks `currentIndex()` must not see
/// another test's write), and the failover tests kill members and compact history.
@Suite(.serialized) enum EtcdClusterSuites {}

/// Where the tests find etcd: `FLEET_TEST_ETCD_ENDPOINTS` (comma list), set by `scripts/etcd-test`.
/// Without it every etcd test is skipped.
enum EtcdTestEnvironment {
    static let endpoints: [String]? = ProcessInfo.processInfo.environment["FLEET_TEST_ETCD_ENDPOINTS"]
        .map(EtcdStore.Configuration.endpoints(fromList:)).flatMap { $0.isEmpty ? nil : $0 }

    static var isAvailable: Bool { endpoints != nil }

    /// `FLEET_TEST_ETCD_TRANSPORT` (`gateway` or `grpc`; default: the store's default):
    /// `scripts/etcd-test` runs the suite once with each.
    static let transport: EtcdStore.Transport = ProcessInfo.processInfo.environment["FLEET_TEST_ETCD_TRANSPORT"]
        .flatMap(EtcdStore.Transport.init(rawValue:)) ?? EtcdStore.Configuration(endpoints: []).transport

    /// `scripts/etcd-cluster`, which started the cluster and can kill and restart its members.
    static let clusterScript: URL = {
        if let path = ProcessInfo.processInfo.environment["FLEET_TEST_ETCD_CLUSTER_SCRIPT"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/etcd-cluster")
    }()

    /// The failover tests need three members they may kill (one at a time) and restart.
    static var canKillMembers: Bool {
        (endpoints?.count ?? 0) >= 3 && FileManager.default.isExecutableFile(atPath: clusterScript.path)
    }

    /// Runs `body` with a store under a fresh prefix, then removes its keys and shuts it down.
    static func withStore<T>(endpoints: [String]? = nil, _ body: (EtcdStore) async throws -> T) async throws -> T {
        let store = try makeStore(endpoints: endpoints)
        do {
            let result = try await body(store)
            try await store.removeEverything()
            await store.shutdown()
            return result
        } catch {
            try? await store.removeEverything()
            await store.shutdown()
            throw error
        }
    }

    /// A store on the test cluster under a prefix no other test uses.
    static func makeStore(endpoints: [String]? = nil, prefix: String? = nil) throws -> EtcdStore {
        let prefix = prefix ?? "/fleet-test/\(UUID().uuidString.prefix(8))"
        return try EtcdStore(configuration: .init(endpoints: endpoints ?? self.endpoints ?? [], keyPrefix: prefix,
                                                  transport: transport))
    }
}

extension EtcdStore {
    /// Deletes every key under the store's prefix (the root itself cannot be deleted through the API).
    func removeEverything() async throws {
        let request = EtcdDeleteRangeRequest(key: keyspace.directoryKey("/"), rangeEnd: keyspace.subtreeEnd("/"))
        _ = try await gateway.call("/v3/kv/deleterange", request, as: EtcdEmptyResponse.self)
    }

    /// Compacts etcd's history (the whole cluster's, not just this prefix) up to `revision`.
    func compact(at revision: Int64) async throws {
        let request = EtcdCompactionRequest(revision: String(revision), physical: true)
        _ = try await gateway.call("/v3/kv/compaction", request, as: EtcdEmptyResponse.self)
    }
}
