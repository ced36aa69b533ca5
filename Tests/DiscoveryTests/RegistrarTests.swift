import FleetDiscovery
import FleetStore
import FleetUnit
import Logging
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
        let value = try #require(try await store.getIfPresent("/discovery/web/3")?.value)
        let record = try #require(DiscoveryRecord.decode(value))
        #expect(record.unit == "web@3.service" && record.machineName == "01234567" && record.address == "10.0.0.7")
        #expect(record.ports == [DiscoveryRecord.Port(port: 8080)] && record.healthy)

        await registrar.systemdStateChanged(unit, active: false)
        #expect(try await store.getIfPresent("/discovery/web/3") == nil)
    }

    @Test func aForgottenUnitLeavesAndAnotherRootIsUsed() async throws {
        let store = InMemoryStore()
        let registrar = Self.registrar(store, keys: DiscoveryKeys(root: "/site/dc1"))
        await registrar.loaded(unit, file: try Self.file("Name=api\n"))
        await registrar.systemdStateChanged(unit, active: true)
        #expect(try await store.getIfPresent("/site/dc1/api/3") != nil)
        #expect(try await store.getIfPresent("/discovery/api/3") == nil)
        await registrar.forget(unit)
        #expect(try await store.getIfPresent("/site/dc1/api/3") == nil)
    }

    @Test func registerNoKeepsTheUnitOut() async throws {
        let store = InMemoryStore()
        let registrar = Self.registrar(store)
        await registrar.loaded(unit, file: try Self.file("Register=no\n"))
        await registrar.systemdStateChanged(unit, active: true)
        #expect(try await store.getIfPresent("/discovery", recursive: true)?.nodes?.isEmpty ?? true)
    }
}
