import FleetDiscovery
import FleetStore
import FleetUnit
import Logging
import Synchronization
import Testing

/// The registrar moved from the agent into discovery (issue 14); what it writes must not change:
/// a record under the configured root while the unit is active, none once it stops or leaves.
@Suite struct RegistrarTests {
    let unit: UnitName

    init() throws { unit = try UnitName("web@3.service") }

    static func registrar(_ store: InMemoryStore, keys: DiscoveryKeys = .standard) -> Registrar {
        Registrar(store: store, machineID: "0123456789abcdef", address: "10.0.0.7", ttl: 30, keys: keys,
                  logger: Logger(label: "test"))
    }

    static func file(_ discovery: String = "Port=8080\n") throws -> UnitFile {
        try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n[X-Discovery]\n" + discovery)
    }

    @Test func anActiveUnitIsRegisteredAndWithdrawnWhenItStops() async throws {
        let store = InMemoryStore()
        let registrar = Self.registrar(store)
        await registrar.loaded(unit, file: try Self.file())
        #expect(try await store.getIfPresent("/discovery/web/3") == nil, "loaded is not running")

        await registrar.systemdStateChanged(unit, active: true)
        await registrar.drain()  // records are written off the caller's path
        let value = try #require(try await store.getIfPresent("/discovery/web/3")?.value)
        let record = try #require(DiscoveryRecord.decode(value))
        #expect(record.unit == "web@3.service" && record.machineName == "01234567" && record.address == "10.0.0.7")
        #expect(record.ports == [DiscoveryRecord.Port(port: 8080)] && record.healthy)

        await registrar.systemdStateChanged(unit, active: false)
        await registrar.drain()
        #expect(try await store.getIfPresent("/discovery/web/3") == nil)
    }

    @Test func aForgottenUnitLeavesAndAnotherRootIsUsed() async throws {
        let store = InMemoryStore()
        let registrar = Self.registrar(store, keys: DiscoveryKeys(root: "/site/dc1"))
        await registrar.loaded(unit, file: try Self.file("Name=api\n"))
        await registrar.systemdStateChanged(unit, active: true)
        await registrar.drain()
        #expect(try await store.getIfPresent("/site/dc1/api/3") != nil)
        #expect(try await store.getIfPresent("/discovery/api/3") == nil)
        await registrar.forget(unit)
        await registrar.drain()
        #expect(try await store.getIfPresent("/site/dc1/api/3") == nil)
    }

    @Test func registerNoKeepsTheUnitOut() async throws {
        let store = InMemoryStore()
        let registrar = Self.registrar(store)
        await registrar.loaded(unit, file: try Self.file("Register=no\n"))
        await registrar.systemdStateChanged(unit, active: true)
        await registrar.drain()
        #expect(try await store.getIfPresent("/discovery", recursive: true)?.nodes?.isEmpty ?? true)
    }

    /// The agent tells the registrar of state changes from its systemd signal loop: a store that
    /// is slow (or gone for a while) must not hold that loop up (issue 16: 67 records written one
    /// round trip after another delayed every unit state behind them by 0.3 s).
    @Test func stateChangesReturnWithoutWaitingForTheStore() async throws {
        let store = HeldWritesStore()
        let registrar = Registrar(store: store, machineID: "0123456789abcdef", address: "10.0.0.7", ttl: 30,
                                  logger: Logger(label: "test"))
        let units = try (1...20).map { try UnitName("web@\($0).service") }
        let file = try Self.file()
        let returned = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for unit in units {
                    await registrar.loaded(unit, file: file)
                    await registrar.systemdStateChanged(unit, active: true)  // returns: nothing written yet
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))  // the bound; then let a stuck caller go
                if !Task.isCancelled { store.release() }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(returned, "the state changes waited for the store")
        #expect(try await store.base.getIfPresent("/discovery/web", recursive: true) == nil)
        store.release()
        await registrar.drain()
        #expect(try await store.base.get("/discovery/web", recursive: true).nodes?.count == 20)
    }
}

/// An `InMemoryStore` whose writes wait until ``release()``.
final class HeldWritesStore: KeyValueStore {
    let base = InMemoryStore()
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func release() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func apply(_ write: StoreWrite) async throws -> StoreEvent {
        await withCheckedContinuation { continuation in
            let open = gate.withLock { gate in
                if !gate.open { gate.waiting.append(continuation) }
                return gate.open
            }
            if open { continuation.resume() }
        }
        return try await base.apply(write)
    }

    func get(_ key: String, recursive: Bool) async throws -> StoreNode { try await base.get(key, recursive: recursive) }
    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error> {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }
    func currentIndex() async throws -> UInt64 { await base.currentIndex() }
}
