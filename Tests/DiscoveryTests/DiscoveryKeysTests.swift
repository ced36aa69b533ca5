import FleetDiscovery
import Testing

/// The key layout is spelled once (issue 14): the registrar's writes and every reader's keys
/// come from ``DiscoveryKeys``.
@Suite struct DiscoveryKeysTests {
    @Test func recordsLieTwoLevelsBelowTheRoot() {
        let keys = DiscoveryKeys.standard
        #expect(keys.root == "/discovery")
        #expect(keys.service("web") == "/discovery/web")
        #expect(keys.record(ServiceInstance(service: "web", instance: "3")) == "/discovery/web/3")
        let record = DiscoveryRecord(service: "db", instance: "m1", unit: nil, machineID: "m1", machineName: "m1",
                                     address: "10.0.0.1")
        #expect(keys.record(of: record) == "/discovery/db/m1")
        #expect(keys.isRecordKey("/discovery/web/3"))
        #expect(!keys.isRecordKey("/discovery/web"))
        #expect(!keys.isRecordKey("/discovery/web/3/x"))
        #expect(!keys.isRecordKey("/discoveryx/web/3"))
    }

    @Test func containsIsTheRootAndBelowOnly() {
        let keys = DiscoveryKeys.standard
        #expect(keys.contains("/discovery") && keys.contains("/discovery/web/3"))
        #expect(!keys.contains("/discoveryx") && !keys.contains("/fleet/discovery") && !keys.contains("/"))
    }

    @Test func anotherRootKeepsTheLayout() {
        let keys = DiscoveryKeys(root: "/site/a")
        #expect(keys.record(ServiceInstance(service: "web", instance: "1")) == "/site/a/web/1")
        #expect(keys.isRecordKey("/site/a/web/1") && !keys.isRecordKey("/discovery/web/1"))
        #expect(DiscoveryKeys(root: "/").isRecordKey("/web/1"))
    }
}
