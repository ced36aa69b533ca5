import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

extension EtcdClusterSuites {
    /// How many etcd requests common operations cost (issue 16 item 2: etcd at the embedded
    /// store's speed). On a 2-core machine etcd's CPU, spent per request, is what a start of
    /// many units waits for.
    @Suite(.enabled(if: EtcdTestEnvironment.isAvailable, "needs FLEET_TEST_ETCD_ENDPOINTS (scripts/etcd-test)"))
    struct EtcdStoreRequestCountTests {
        /// Every engine tries to create the engine lease on each wake-up; all but one fail. A
        /// failing create with a TTL is a read: no lease granted, no txn proposed, no revoke.
        @Test func aCreateWithATTLThatFailsGrantsNoLease() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let made = try await store.create("/lease/leader", "a", ttl: 30)
                let grants = store.gateway.calls(to: "/v3/lease/grant")
                let revokes = store.gateway.calls(to: "/v3/lease/revoke")
                let txns = store.gateway.calls(to: "/v3/kv/txn")

                let taken = await #expect(throws: StoreError.self) { try await store.create("/lease/leader", "b", ttl: 30) }
                #expect(taken?.code == .nodeExists)
                #expect(taken?.index ?? 0 >= made.index, "the failure carries the index it was seen at")
                let underValue = await #expect(throws: StoreError.self) {
                    try await store.create("/lease/leader/below", "b", ttl: 30)
                }
                #expect(underValue?.code == .notADirectory)

                #expect(store.gateway.calls(to: "/v3/lease/grant") == grants, "a lease for a create that cannot succeed")
                #expect(store.gateway.calls(to: "/v3/lease/revoke") == revokes)
                #expect(store.gateway.calls(to: "/v3/kv/txn") == txns + 2, "one read-only txn per failed create")
                #expect(try await store.value("/lease/leader") == "a")
            }
        }

        /// The check in front of a create with a TTL does not change what a create that can
        /// succeed does: one lease, one txn that writes, and the key expires with its lease.
        @Test func aCreateWithATTLThatSucceedsStillWritesOnce() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let grants = store.gateway.calls(to: "/v3/lease/grant")
                let made = try await store.create("/lease/new", "a", ttl: 30)
                #expect(store.gateway.calls(to: "/v3/lease/grant") == grants + 1)
                #expect(made.action == .create)
                let node = try await store.get("/lease/new", recursive: false)
                #expect(node.value == "a")
                #expect((node.ttl(now: Date()) ?? 0) > 20)
            }
        }
    }
}
