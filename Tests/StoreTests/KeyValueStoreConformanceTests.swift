import FleetRemoteStore
import FleetStore
import FleetStoreTesting
import Testing

/// The store conformance suite (`FleetStoreTesting`) on the in-memory store, the embedded store
/// and the in-memory store through the keys API and `RemoteStore`; etcd runs the same checks in
/// `FleetStoreEtcdTests`.
@Suite struct KeyValueStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases, StoreConformance.checks)
    func conformance(_ backend: StoreBackend, _ check: StoreConformanceCheck) async throws {
        try await backend.with { store, backing, time in
            let fixture = StoreFixture(advance: { seconds in
                time.advance(seconds: seconds)
                await backing.expireDueKeys()
            })
            try await check.run(on: store, fixture)
        }
    }
}
