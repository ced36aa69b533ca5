import FleetRegistry
import FleetStore
import FleetUnit
import Logging
import Testing
@testable import FleetAgent

/// Issue 16: a destroyed unit's state must not outlive it. The publisher keeps only the newest
/// wish per unit, so a `publish` (systemd's signal for the stop, handled while the unload
/// forgets the unit) can replace the queued `remove`; the write must then delete the state.
@Suite struct UnitStateWriterTests {
    let machine = MachineID("m1")
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func publishedState(_ registry: Registry, _ unit: UnitName) async throws {
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        try await registry.publishState(UnitStateRecord(name: unit, machineID: machine, hash: file.hash, loadState: "loaded",
                                                        activeState: .active, subState: "running", jobState: .launched),
                                        lifetime: .ttl(30))
    }

    @Test(arguments: [StatePublisher.Operation.publish, .refresh, .remove])
    func anyWishForAUnitNoLongerHereDeletesItsState(operation: StatePublisher.Operation) async throws {
        let registry = Registry(store: InMemoryStore())
        let unit = try UnitName("web@1.service")
        try await publishedState(registry, unit)
        let writer = UnitStateWriter(registry: registry, local: LocalUnits(machine: machine), machine: machine,
                                     lifetime: RecordLifetime(ttl: 30), logger: quiet)
        await writer.write(unit, operation)
        #expect(try await registry.states().isEmpty, "the state of a unit this machine no longer has is gone")
    }

    @Test func aPublishThatReplacedTheRemovalStillRemovesTheState() async throws {
        let registry = Registry(store: InMemoryStore())
        let unit = try UnitName("web@1.service")
        try await publishedState(registry, unit)
        let writer = UnitStateWriter(registry: registry, local: LocalUnits(machine: machine), machine: machine,
                                     lifetime: RecordLifetime(ttl: 30), logger: quiet)
        let publisher = StatePublisher { await writer.write($0, $1) }
        // Both queued before the batch runs, as when the stop's signal arrives during the unload.
        await publisher.enqueue(unit, .remove)
        await publisher.enqueue(unit, .publish)
        await publisher.drain()
        #expect(try await registry.states().isEmpty)
    }

    @Test func aUnitStillHereIsPublished() async throws {
        let registry = Registry(store: InMemoryStore())
        let unit = try UnitName("web@1.service")
        let local = LocalUnits(machine: machine)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        await local.loaded(unit, hash: file.hash)
        let writer = UnitStateWriter(registry: registry, local: local, machine: machine, lifetime: RecordLifetime(ttl: 30), logger: quiet)
        await writer.write(unit, .publish)
        #expect(try await registry.states().map(\.name) == [unit])
    }
}
