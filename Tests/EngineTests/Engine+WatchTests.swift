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
        let registry = Registry(store: store)
        store.inject(.silent, onWatchesOf: registry.keys.prefix)
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
                // Once the engine leads and its (silent) registry watch is open, create a unit.
                while try await registry.store.value(registry.keys.engineLease) == nil
                    || !store.watchedKeys.contains(registry.keys.prefix) {
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
        #expect(store.watchedKeys.filter { $0 == registry.keys.prefix }.count >= 2)
        #expect(try metrics.expectCounter("fleet_store_follow_silences_total", [("follower", "engine")]).totalValue >= 1)
    }
}

extension EngineTests {
    /// Only the leader follows the registry; another machine's engine follows the lease key
    /// alone (issue 16: every machine decoding every write of the cluster for a model it never
    /// planned from) and starts following the registry when it takes over.
    @Test func onlyTheLeaderFollowsTheRegistry() async throws {
        let base = InMemoryStore()
        let storeA = FaultyStore(base), storeB = FaultyStore(base)
        let registryA = Registry(store: storeA), registryB = Registry(store: storeB)
        let keys = registryA.keys
        try await registryA.publishMachine(machine("m1"), ttl: 600)
        try await registryA.publishMachine(machine("m2"), ttl: 600)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let a = Engine(registry: registryA, configuration: .init(machine: MachineID("m1"), leaseTTL: 2), logger: logger)
        let b = Engine(registry: registryB, configuration: .init(machine: MachineID("m2"), leaseTTL: 2), logger: logger)
        let web = try UnitName("web.service")
        try await withThrowingTaskGroup(of: Void.self) { group in
            let runA = Task { try await a.run() }
            group.addTask { try await withTaskCancellationHandler { try await runA.value } onCancel: { runA.cancel() } }
            try await within(.seconds(10), "m1 leads and follows the registry") {
                try await base.value(keys.engineLease) == "m1" && storeA.watchedKeys.contains(keys.prefix)
            }
            group.addTask { try await b.run() }
            try await within(.seconds(10), "m2 follows the lease key") { storeB.watchedKeys.contains(keys.engineLease) }
            try await registryA.createUnit(web, file: file, desiredState: .launched)
            try await within(.seconds(10), "m1 places the unit") { try await base.value(keys.target(web)) != nil }
            #expect(!storeB.watchedKeys.contains(keys.prefix), "m2 follows only \(storeB.watchedKeys)")

            runA.cancel()  // m1 stops; m2 takes the lease over and follows the registry from then on
            try await within(.seconds(10), "m2 leads and follows the registry") {
                try await base.value(keys.engineLease) == "m2" && storeB.watchedKeys.contains(keys.prefix)
            }
            group.cancelAll()
        }
    }

    /// Waits (bounded) until `condition` holds, polling every 20 ms; fails naming `what`.
    func within(_ bound: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + bound
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("not within \(bound): \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
