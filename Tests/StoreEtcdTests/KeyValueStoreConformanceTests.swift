import FleetStore
@testable import FleetStoreEtcd
import FleetStoreTesting
import Testing

extension EtcdClusterSuites {
    /// The store conformance suite (`FleetStoreTesting`) on the etcd cluster of
    /// `scripts/etcd-test`, each check under a fresh key prefix. TTLs pass in real time (leases
    /// run on etcd's clock) and forgetting history compacts the cluster.
    @Suite(.enabled(if: EtcdTestEnvironment.isAvailable, "needs FLEET_TEST_ETCD_ENDPOINTS (scripts/etcd-test)"))
    struct KeyValueStoreConformanceTests {
        @Test(arguments: StoreConformance.checks)
        func conformance(_ check: StoreConformanceCheck) async throws {
            try await EtcdTestEnvironment.withStore { store in
                let fixture = StoreFixture(reportsEachKeyOfADeletedDirectory: true, keepsAttachedKeysOfADeletedOwnerUntilItsTTL: true,
                                           advance: { seconds in try await Task.sleep(for: .seconds(seconds)) },
                                           forgetHistory: { try await store.compact(at: Int64(clamping: store.currentIndex())) })
                try await check.run(on: store, fixture)
            }
        }
    }
}
