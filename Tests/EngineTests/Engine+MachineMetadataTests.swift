import FleetEngine
import FleetRegistry
import FleetStore
import FleetUnit
import Logging
import MetricsTestKit
import Testing

/// Dynamic machine metadata (`PATCH /fleet/v1/machines`) through the registry's merged view
/// into the engine's placement.
@Suite struct EngineMachineMetadataTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func machine(_ id: String, _ metadata: [String: String]) -> MachineRecord {
        MachineRecord(id: MachineID(id), publicIP: "10.0.0.1", metadata: metadata)
    }

    @Test func dynamicKeysOverlayConfigAndAnEmptyValueRemovesAKey() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.publishMachine(machine("m1", ["region": "a", "disk": "ssd"]), ttl: 30)
        try await registry.setMachineMetadata(MachineID("m1"), key: "region", value: "b")
        try await registry.setMachineMetadata(MachineID("m1"), key: "disk", value: "")
        try await registry.setMachineMetadata(MachineID("m1"), key: "rack", value: "7")
        // Metadata of a machine that is not registered is kept but lists no machine.
        try await registry.setMachineMetadata(MachineID("m9"), key: "region", value: "z")
        let machines = try await registry.machines()
        #expect(machines.map(\.id) == [MachineID("m1")])
        #expect(machines.first?.metadata == ["region": "b", "rack": "7"])
    }

    @Test func aPlacedUnitFollowsAPatchedMetadataChange() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.publishMachine(machine("m1", ["region": "a"]), ttl: 30)
        try await registry.publishMachine(machine("m2", ["region": "b"]), ttl: 30)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=region=b\n")
        let unit = try UnitName("east.service")
        try await registry.createUnit(unit, file: file, desiredState: .launched)
        let engine = Engine(registry: registry, configuration: .init(machine: MachineID("m1")), logger: logger)

        try await engine.reconcile()
        #expect(try await registry.unit(unit)?.target == MachineID("m2"))
        #expect(try await registry.assignments(MachineID("m2"))[unit] != nil)

        // m2 leaves region b (a tombstone hides even its configured key), m1 joins it.
        try await registry.setMachineMetadata(MachineID("m2"), key: "region", value: "")
        try await registry.setMachineMetadata(MachineID("m1"), key: "region", value: "b")
        try await engine.reconcile()
        #expect(try await registry.unit(unit)?.target == MachineID("m1"))
        #expect(try await registry.assignments(MachineID("m1"))[unit] != nil)
        #expect(try await registry.assignments(MachineID("m2"))[unit] == nil)

        // Metadata that no machine has any more: the unit is unplaced and says why.
        try await registry.setMachineMetadata(MachineID("m1"), key: "region", value: "c")
        try await engine.reconcile()
        let after = try #require(try await registry.unit(unit))
        #expect(after.target == nil)
        #expect(after.unplaceableReason?.contains("region=b") == true)
    }
}

/// fleet's engine and registry metrics, recorded through swift-metrics.
@Suite struct EngineMetricsTests {
    @Test func passesTasksAndUnplaceableUnitsAreCounted() async throws {
        let metrics = TestMetrics()
        let registry = Registry(store: MeteredStore(InMemoryStore(), factory: metrics))
        try await registry.publishMachine(MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1"), ttl: 30)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let nowhere = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=region=mars\n")
        try await registry.createUnit(try UnitName("a.service"), file: file, desiredState: .launched)
        try await registry.createUnit(try UnitName("b.service"), file: file, desiredState: .launched)
        try await registry.createUnit(try UnitName("mars.service"), file: nowhere, desiredState: .launched)
        let engine = Engine(registry: registry,
                            configuration: .init(machine: MachineID("m1"), metrics: EngineMetrics(factory: metrics),
                                                 awayGrace: .zero),  // a machine that leaves is dead at once
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await engine.reconcile()
        #expect(try metrics.expectCounter("fleet_engine_reconcile_count_total").totalValue == 1)
        #expect(try metrics.expectTimer("fleet_engine_reconcile_duration_second").values.count == 1)
        #expect(try metrics.expectCounter("fleet_engine_task_count_total", [("type", "schedule")]).totalValue == 2)
        #expect(try metrics.expectCounter("fleet_engine_task_count_total", [("type", "assign")]).totalValue == 2)
        #expect(try metrics.expectCounter("fleet_engine_reconcile_failure_count_total", [("type", "schedule")]).totalValue == 1)
        #expect(try metrics.expectCounter("fleet_registry_operation_count_total", [("type", "get_all")]).totalValue > 0)
        #expect(try metrics.expectCounter("fleet_registry_operation_count_total", [("type", "set")]).totalValue > 0)

        // The machine leaves: its units are taken off it, counted as machine_away.
        try await registry.removeMachine(MachineID("m1"))
        try await engine.reconcile()
        #expect(try metrics.expectCounter("fleet_engine_reconcile_failure_count_total", [("type", "machine_away")]).totalValue == 2)
        #expect(try metrics.expectCounter("fleet_engine_reconcile_count_total").totalValue == 2)
    }
}
