import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// Issue 16: an idle agent keeps its unit states alive with TTL refreshes, which change no value
/// and wake no watcher, instead of rewriting every state every 0.4 × TTL; a state that is not
/// what the store holds is still written in full. Against the in-memory stand-in for systemd.
@Suite struct AgentStateRefreshTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let machine = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1")
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The in-memory store, with every write it was asked for recorded.
    final class RecordingStore: KeyValueStore {
        let base = InMemoryStore()
        let writes = Mutex<[StoreWrite]>([])

        func get(_ key: String, recursive: Bool) async throws -> StoreNode { try await base.get(key, recursive: recursive) }
        func apply(_ write: StoreWrite) async throws -> StoreEvent {
            writes.withLock { $0.append(write) }
            return try await base.apply(write)
        }
        func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
            -> AsyncThrowingStream<StoreEvent, any Error>
        {
            try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
        }
        func currentIndex() async throws -> UInt64 { try await base.currentIndex() }

        /// Full writes and TTL refreshes of `key` so far.
        func counts(_ key: String) -> (sets: Int, refreshes: Int) {
            writes.withLock { writes in
                writes.reduce(into: (0, 0)) { counts, write in
                    switch write {
                    case .set(key, _, _, _): counts.0 += 1
                    case .refresh(key, _, _): counts.1 += 1
                    default: break
                    }
                }
            }
        }
    }

    /// Runs an agent (TTL 2 s: its states are kept alive every 0.8 s) with `web@1.service`
    /// launched on it until `body` returns.
    func withRunningUnit(_ body: @Sendable (RecordingStore, Registry, String) async throws -> Void) async throws {
        let store = RecordingStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let name = try UnitName("web@1.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: InMemoryUnitManager(), configuration: .init(machine: machine, ttl: 2),
                          logger: quiet)
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("web@1 is published active") {
                    try await registry.states().contains { $0.name == name && $0.activeState == .active }
                }
                try await body(store, registry, registry.keys.state(name, machine.id))
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }

    @Test func anUnchangedStateIsRefreshedNotRewritten() async throws {
        try await withRunningUnit { store, _, key in
            // Counted from the first refresh on: by then the start's own writes (which may come
            // as more than one under a busy test run) are done, and the state is unchanged.
            try await eventually("the state's TTL is refreshed") { store.counts(key).refreshes >= 1 }
            let (setsBefore, refreshesBefore) = store.counts(key)
            try await eventually("the state's TTL is refreshed twice more") {
                store.counts(key).refreshes >= refreshesBefore + 2
            }
            #expect(store.counts(key).sets == setsBefore, "an unchanged state is never rewritten")
        }
    }

    @Test func aStateTheStoreHoldsDifferentlyIsWrittenInFull() async throws {
        try await withRunningUnit { store, _, key in
            // As if a change's write had failed: the store holds an older state.
            let current = try #require(try await store.value(key))
            try await store.set(key, current.replacingOccurrences(of: "\"active\"", with: "\"activating\""), ttl: 2)
            try await eventually("the current state is written back") { try await store.value(key) == current }
            // And a state the store lost (it expired during an outage) comes back.
            try await store.deleteIfPresent(key, recursive: false)
            try await eventually("the lost state is written again") { try await store.value(key) == current }
        }
    }
}
