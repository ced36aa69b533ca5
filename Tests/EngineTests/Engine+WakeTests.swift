import FleetEngine
import FleetRegistry
import FleetStore
import FleetUnit
import Logging
import MetricsTestKit
import Testing

extension EngineTests {
    /// A new unit's desired state, written before its job object, does not wake the engine: the
    /// pass would find no unit, and the job object's own wake-up would then wait out the settle
    /// time behind it (issue 16: one unit started 20-30 ms later once passes stopped beginning
    /// with a lease write). A known unit's desired state still does.
    @Test func aNewUnitsDesiredStateAloneDoesNotWakeTheEngine() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        let keys = registry.keys
        try await registry.publishMachine(machine("m1"), ttl: 600)
        let metrics = TestMetrics()
        let engine = Engine(registry: registry,
                            configuration: .init(machine: MachineID("m1"), leaseTTL: 60, metrics: EngineMetrics(factory: metrics)),
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let web = try UnitName("web.service")
        func passes() throws -> Int64 { try metrics.expectCounter("fleet_engine_reconcile_count_total").totalValue }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.run() }
            try await within(.seconds(10), "the engine leads") {
                try await store.value(keys.engineLease) == "m1" && (try? passes()) ?? 0 >= 1
            }
            // A pass of the engine's own start (its follow loading) may still fall in a window:
            // a few tries, each with a new unit's desired state. Before, every one woke a pass.
            var quiet = false
            for attempt in 1...5 where !quiet {
                let before = try passes()
                try await store.set(keys.targetState(try UnitName("new\(attempt).service")), DesiredState.launched.rawValue)
                try await Task.sleep(for: .milliseconds(300))  // the window a pass would have run in
                quiet = try passes() == before
            }
            #expect(quiet, "each new unit's desired state alone woke a pass")
            let before = try passes()
            try await registry.createUnit(web, file: file, desiredState: .launched)
            // A pass is counted when it ends, after its writes.
            try await within(.seconds(10), "the job object wakes a pass that places the unit") {
                try await store.value(keys.target(web)) != nil && passes() > before
            }
            let afterCreating = try passes()
            try await registry.setDesiredState(web, .loaded)
            try await within(.seconds(10), "a known unit's desired state wakes the engine") { try passes() > afterCreating }
            group.cancelAll()
        }
    }
}
