import FleetEngine
import FleetRegistry
import FleetStore
import FleetTestSupport
import FleetUnit
import Logging
import Testing

@Suite struct EngineTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")

    @Test func reconcileWritesTargetsAndAssignments() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        for id in ["m1", "m2"] { try await registry.publishMachine(machine(id), ttl: 30) }
        for i in 1...4 { try await registry.createUnit(try UnitName("web@\(i).service"), file: file, desiredState: .launched) }
        let engine = Engine(registry: registry, configuration: .init(machine: MachineID("m1")), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await engine.reconcile()
        let units = try await registry.units()
        #expect(units.allSatisfy { $0.target != nil })
        #expect(try await registry.assignments(MachineID("m1")).count == 2)
        #expect(try await registry.assignments(MachineID("m2")).count == 2)
        // A second pass on a settled cluster changes nothing.
        let before = await store.currentIndex()
        try await engine.reconcile()
        #expect(await store.currentIndex() == before)
    }

    /// A pass over many new instances of one template reads their contents once (issue 16
    /// item 2): one read per unit, one after another, was 200 round trips on etcd.
    @Test func aPassReadsSharedContentsOnce() async throws {
        let store = ReadCountingStore(counting: RegistryKeys().unitFiles)
        let registry = Registry(store: store)
        try await registry.publishMachine(machine("m1"), ttl: 30)
        for i in 1...40 { try await registry.createUnit(try UnitName("web@\(i).service"), file: file, desiredState: .launched) }
        store.resetReads()
        let engine = Engine(registry: registry, configuration: .init(machine: MachineID("m1")), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await engine.reconcile()
        #expect(try await registry.assignments(MachineID("m1")).count == 40)
        #expect(store.readCount == 1)
        try await registry.createUnit(try UnitName("web@41.service"), file: file, desiredState: .launched)
        store.resetReads()
        try await engine.reconcile()
        #expect(try await registry.assignments(MachineID("m1")).count == 41)
        #expect(store.readCount == 0, "contents already read are not read again")
    }

    @Test func onlyOneMachineHoldsTheLease() async throws {
        let registry = Registry(store: InMemoryStore())
        let term = try #require(try await registry.acquireLease(MachineID("m1"), ttl: 10))
        #expect(try await registry.acquireLease(MachineID("m2"), ttl: 10) == nil)
        #expect(try await registry.acquireLease(MachineID("m1"), ttl: 10) == term, "the holder renews, same term")
        try await registry.releaseLease(term)
        let next = try #require(try await registry.acquireLease(MachineID("m2"), ttl: 10))
        #expect(next.createdIndex > term.createdIndex)
        try await registry.releaseLease(term)
        #expect(try await registry.leader() == MachineID("m2"), "releasing an old term leaves the successor alone")
    }
}
