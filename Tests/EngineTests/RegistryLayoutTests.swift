import FleetRegistry
import FleetStore
import Synchronization
import Testing

/// Issue 15: the store's key layout has a version; a newer one is refused, an older one is
/// brought forward once, and a cluster made before the version existed counts as layout 1.
@Suite struct RegistryLayoutTests {
    let machine = MachineID("m1")

    func layout(_ store: InMemoryStore, _ registry: Registry) async throws -> Int? {
        let text = try await store.value(registry.keys.cluster) ?? ""
        guard let range = text.range(of: #""layout":(\d+)"#, options: .regularExpression) else { return nil }
        return Int(text[range].drop(while: { !$0.isNumber }))
    }

    @Test func aNewClusterHasTheCurrentLayoutAndNothingToDo() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine)
        #expect(try await layout(store, registry) == RegistryLayout.current)
        let upgrade = try await registry.upgradeLayout()
        #expect(upgrade == .init(from: RegistryLayout.current, to: RegistryLayout.current, ran: []))
    }

    @Test func aClusterKeyWithoutALayoutIsLayoutOneAndGetsTheCurrentOne() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await store.set(registry.keys.cluster, #"{"by":"m0","created":"2026-01-01T00:00:00Z"}"#)
        let upgrade = try await registry.upgradeLayout(to: 1, migrations: [])
        #expect(upgrade.from == 1 && upgrade.to == 1)
        let stepped = try await registry.upgradeLayout(to: 2, migrations: [
            LayoutMigration(to: 2, summary: "v2", run: { _ in }),
        ])
        #expect(stepped == .init(from: 1, to: 2, ran: ["v2"]))
        #expect(try await store.value(registry.keys.cluster)?.contains(#""by":"m0""#) == true, "the record is kept")
        #expect(try await layout(store, registry) == 2)
    }

    @Test func anOlderLayoutIsMigratedStepByStepOnce() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine)
        let runs = Mutex<[Int]>([])
        let steps = [3, 2].map { to in
            LayoutMigration(to: to, summary: "to \(to)", run: { registry in
                runs.withLock { $0.append(to) }
                try await registry.store.set("/fleet-test/layout-\(to)", "done")
            })
        }
        #expect(try await registry.upgradeLayout(to: 3, migrations: steps).ran == ["to 2", "to 3"])
        #expect(runs.withLock { $0 } == [2, 3], "in order")
        #expect(try await store.value("/fleet-test/layout-3") == "done")
        #expect(try await registry.upgradeLayout(to: 3, migrations: steps).ran.isEmpty, "recorded: not run again")
        #expect(runs.withLock { $0 }.count == 2)
    }

    @Test func aNewerLayoutIsRefusedAndTouchesNothing() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine)
        _ = try await registry.upgradeLayout(to: 5, migrations: [])
        let before = try await store.get(registry.keys.cluster, recursive: false).modifiedIndex
        await #expect(throws: LayoutTooNewError.self) { try await registry.upgradeLayout(to: 4, migrations: []) }
        #expect(try await store.get(registry.keys.cluster, recursive: false).modifiedIndex == before)
        do {
            try await registry.upgradeLayout(to: 4, migrations: [])
        } catch let error as LayoutTooNewError {
            #expect(error.description.contains("layout 5, newer than this fleetd understands (4)"))
        }
    }

    @Test func withoutAClusterKeyThereIsNoLayoutToCheck() async throws {
        let registry = Registry(store: InMemoryStore())
        await #expect(throws: NoClusterError.self) { try await registry.upgradeLayout() }
    }
}
