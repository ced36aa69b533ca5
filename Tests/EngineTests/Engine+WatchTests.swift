import FleetEngine
import FleetRegistry
import FleetStore
import FleetTestSupport
import FleetUnit
import Logging
import MetricsTestKit
import Testing

extension EngineTests {
    /// The engine's model is fed by a follower bounded in silence by the lease TTL: a watch that
    /// went silent without a word (a dead connection) is made anew, so a unit created meanwhile
    /// is placed within about a TTL, not at the model's periodic reload 100 ticks later.
    @Test func aRegistryWatchThatWentSilentIsMadeAnew() async throws {
        let store = FaultyStore()
        store.inject(.silent)
        let registry = Registry(store: store)
        try await registry.publishMachine(machine("m1"), ttl: 600)
        let metrics = TestMetrics()
        let engine = Engine(registry: registry,
                            configuration: .init(machine: MachineID("m1"), leaseTTL: 2, metrics: EngineMetrics(factory: metrics)),
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let web = try UnitName("web.service")
        let placed = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await engine.run()
                return false
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))  // the bound, not a wait for the event
                return false
            }
            group.addTask {
                // Once the engine leads and its (silent) watch is open, create a unit.
                while try await registry.store.value(registry.keys.engineLease) == nil || store.watchCalls.isEmpty {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let from = try await store.currentIndex() + 1
                try await registry.createUnit(web, file: file, desiredState: .launched)
                for try await event in try await store.base.watch(registry.keys.target(web), recursive: false, fromIndex: from)
                    where event.node.value != nil { return true }
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(placed, "the unit was placed within 10 s")
        #expect(store.watchCalls.count >= 2)
        #expect(try metrics.expectCounter("fleet_store_follow_silences_total", [("follower", "engine")]).totalValue >= 1)
    }
}
