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

/// The in-memory store with every write it was asked for recorded; it attaches keys or, as a
/// store in front of an older fleetd would, does not.
final class RecordingStore: KeyValueStore {
    let base = InMemoryStore()
    /// Whether it says it attaches; a test may change it (the store's fleetd was upgraded).
    let attaches: Mutex<Bool>
    let writes = Mutex<[StoreWrite]>([])
    /// Full writes that put the value the key already held, live, back: the waste the agent must
    /// not make. A write that brings back a key which expired (a stalled test run can outlast a
    /// TTL) is needed, and is not counted.
    let redundantWrites = Mutex<[String: Int]>([:])

    init(attaches: Bool) { self.attaches = Mutex(attaches) }

    func get(_ key: String, recursive: Bool) async throws -> StoreNode { try await base.get(key, recursive: recursive) }
    func apply(_ write: StoreWrite) async throws -> StoreEvent {
        writes.withLock { $0.append(write) }
        switch write {
        case .set(let key, let value?, _, _), .attach(let key, let value, _, _):
            // One agent writes each key, so nothing comes between this read and the write.
            if let held = try? await base.get(key, recursive: false), held.value == value {
                redundantWrites.withLock { $0[key, default: 0] += 1 }
            }
        default: break
        }
        return try await base.apply(write)
    }
    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }
    func currentIndex() async throws -> UInt64 { try await base.currentIndex() }
    func supportsAttachedKeys() async -> Bool { attaches.withLock { $0 } }

    /// Whether the last write of `key` attached it.
    func lastWriteAttached(_ key: String) -> Bool {
        writes.withLock { writes in
            for write in writes.reversed() {
                switch write {
                case .attach(key, _, _, _): return true
                case .set(key, _, _, _), .refresh(key, _, _), .delete(key, _, _, _): return false
                default: continue
                }
            }
            return false
        }
    }

    /// Full writes and TTL refreshes of `key` so far.
    func counts(_ key: String) -> (sets: Int, refreshes: Int) {
        writes.withLock { writes in
            writes.reduce(into: (0, 0)) { counts, write in
                switch write {
                case .set(key, _, _, _), .attach(key, _, _, _): counts.0 += 1
                case .refresh(key, _, _): counts.1 += 1
                default: break
                }
            }
        }
    }

    /// Full writes of `key` so far that rewrote the value it held.
    func redundantWriteCount(_ key: String) -> Int { redundantWrites.withLock { $0[key, default: 0] } }

    /// Writes of any kind to `key` so far.
    func writeCount(_ key: String) -> Int {
        let (sets, refreshes) = counts(key)
        return sets + refreshes
    }
}

/// Runs `observe`, which watches one idle stretch, until a stretch passes in which the machine's
/// presence was not made anew, and returns what that one saw (at most `attempts` stretches).
/// When the whole suite starts at once on a busy machine, a stall can outlast the 2 s TTL: the
/// presence ends, the agent registers again and rightly writes its states anew, which is not
/// the idle behaviour the caller checks.
func withinOneRegistration<T>(_ store: RecordingStore, presence: String, attempts: Int = 3,
                              _ observe: () async throws -> T) async throws -> T {
    for _ in 1..<max(attempts, 1) {
        let registrations = store.counts(presence).sets
        let seen = try await observe()
        if store.counts(presence).sets == registrations { return seen }
    }
    return try await observe()
}

/// Runs an agent for machine `m1` (TTL 2 s: presence refreshed every 0.5 s, states with a TTL
/// kept alive every 0.8 s) on `store`, with `web@1.service` launched on it, until `body` returns;
/// `body` gets the store, the registry and the unit's state key.
func withRunningWebUnit(on store: RecordingStore,
                        _ body: @Sendable (RecordingStore, Registry, String) async throws -> Void) async throws {
    let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let machine = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1")
    let registry = Registry(store: store)
    try await registry.ensureCluster(create: true, by: machine.id)
    let name = try UnitName("web@1.service")
    try await registry.createUnit(name, file: file, desiredState: .launched)
    try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
    let agent = Agent(registry: registry, units: InMemoryUnitManager(), configuration: .init(machine: machine, ttl: 2),
                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
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
