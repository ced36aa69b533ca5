import FleetRegistry
import FleetStore
import FleetSystemd
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

    /// Issue 16 item 2: systemd signals `activating` and `active`, and the first wish's write
    /// already read `active`, so the second wrote the same record again (a raft write and a
    /// watch event per engine on etcd). An attached state already written is not written again,
    /// until it changes or the machine registers anew (its presence, and so the state, may be new).
    @Test func theSameAttachedStateIsWrittenOnce() async throws {
        let store = RecordingStore(attaches: true)
        let registry = Registry(store: store)
        try await registry.publishMachine(MachineRecord(id: machine, publicIP: "10.0.0.1"), ttl: 30)
        let unit = try UnitName("web@1.service")
        let key = registry.keys.state(unit, machine)
        let local = LocalUnits(machine: machine)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        await local.loaded(unit, hash: file.hash)
        let lifetime = RecordLifetime(ttl: 30)
        lifetime.current = await registry.recordLifetime(for: machine, ttl: 30)
        let writer = UnitStateWriter(registry: registry, local: local, machine: machine, lifetime: lifetime, logger: quiet)

        await writer.write(unit, .publish)
        await writer.write(unit, .publish)
        #expect(store.writeCount(key) == 1, "the same record, attached under the same registration")
        _ = await local.systemdStateChanged(unit, SystemdUnitState(loadState: "loaded", activeState: .active, subState: "running"))
        await writer.write(unit, .publish)
        await writer.write(unit, .publish)
        #expect(store.writeCount(key) == 2, "a changed record is written")
        #expect(try await registry.states().first?.activeState == .active)

        lifetime.current = await registry.recordLifetime(for: machine, ttl: 30)
        await writer.write(unit, .publish)
        #expect(store.writeCount(key) == 3, "a new registration writes it again")
        try await registry.removeState(unit, machine)
        await writer.write(unit, .remove)
        await writer.write(unit, .publish)
        #expect(store.writeCount(key) == 4, "after a removal it is written again")
    }

    /// A state with a TTL of its own may have expired unseen, so every publish writes it.
    @Test func aStateWithItsOwnTTLIsWrittenEveryTime() async throws {
        let store = RecordingStore(attaches: false)
        let registry = Registry(store: store)
        let unit = try UnitName("web@1.service")
        let local = LocalUnits(machine: machine)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        await local.loaded(unit, hash: file.hash)
        let writer = UnitStateWriter(registry: registry, local: local, machine: machine,
                                     lifetime: RecordLifetime(ttl: 30), logger: quiet)
        await writer.write(unit, .publish)
        await writer.write(unit, .publish)
        #expect(store.writeCount(registry.keys.state(unit, machine)) == 2)
    }
}
