import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// Two fleetds with one machine ID: the second is refused and the first left alone; a restart
/// of the same session takes its presence over at once (issue 12, item 2).
@Suite struct PresenceClaimTests {
    let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let live = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1", session: "aaaa")
    let clone = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.9", session: "bbbb")

    /// Keeps `record`'s presence refreshed, as its live agent would, until cancelled.
    func keepRefreshing(_ record: MachineRecord, _ registry: Registry, ttl: Int64) async {
        while !Task.isCancelled {
            _ = try? await registry.refreshMachine(record, ttl: ttl)
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func aSecondLiveMachineWithTheSameIDIsRefusedAndTheFirstLeftAlone() async throws {
        let registry = Registry(store: InMemoryStore())
        // The live record's TTL is far longer than the claimant's, so a refresher starved by a
        // busy test run (all suites share two cores; 6 s was once not enough) cannot let it
        // expire: the claim is refused because the record outlives the claimant's TTL anyway.
        try await registry.publishMachine(live, ttl: 30)
        let refresher = Task { await keepRefreshing(live, registry, ttl: 30) }
        defer { refresher.cancel() }
        let start = ContinuousClock.now
        let error = await #expect(throws: DuplicateMachineError.self) {
            try await PresenceClaim(registry: registry, record: clone, ttl: 2, logger: silent).claim()
        }
        #expect(ContinuousClock.now - start < .seconds(10), "refused within about the TTL")
        #expect(error?.description.contains("m1") == true)
        #expect(error?.description.contains("systemd-machine-id-setup") == true)
        #expect(error?.heldBy == "10.0.0.1")
        #expect(try await registry.presenceHolder(live.id)?.record == live, "the live machine's record is untouched")
    }

    @Test func aRecordNobodyRefreshesIsTakenOnceItExpires() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.publishMachine(live, ttl: 1)  // a predecessor from an earlier boot, gone
        try await PresenceClaim(registry: registry, record: clone, ttl: 2, logger: silent).claim()
        #expect(try await registry.presenceHolder(clone.id)?.record == clone)
    }

    @Test func theSameSessionTakesItsPresenceOverAtOnce() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.publishMachine(live, ttl: 30)  // left by a fleetd killed with -9
        var restarted = live
        restarted.publicIP = "10.0.0.2"
        let start = ContinuousClock.now
        try await PresenceClaim(registry: registry, record: restarted, ttl: 30, logger: silent).claim()
        #expect(ContinuousClock.now - start < .seconds(1), "no wait for its own record")
        #expect(try await registry.presenceHolder(live.id)?.record == restarted)
    }

    @Test func anAgentWhoseIDWasTakenStopsWithTheErrorAndLeavesTheKey() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: live.id)
        let agent = Agent(registry: registry, units: InMemoryUnitManager(),
                          configuration: .init(machine: live, ttl: 2), logger: silent)
        try await testGracefulShutdown { _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await #expect(throws: DuplicateMachineError.self) { try await agent.run() }
                }
                try await eventually("the machine registered") { try await !registry.machines().isEmpty }
                // Another fleetd with the same ID registers while this one is away (say).
                try await registry.publishMachine(clone, ttl: 30)
                try await group.waitForAll()
            }
        }
        #expect(try await registry.presenceHolder(live.id)?.record == clone, "the other's key is left alone")
    }

    @Test func anAgentBackFromAnExpiredPresenceStopsNothingThatIsStillAssigned() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: live.id)
        let systemd = InMemoryUnitManager()
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: live, ttl: 2), logger: silent)
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let name = try UnitName("kept.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(live.id, name, Assignment(hash: file.hash, desiredState: .launched))
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("kept is active") { try await systemd.state(of: name.rawValue).activeState == .active }
                let index = try #require(try await registry.store.getIfPresent(registry.keys.machine(live.id))?.createdIndex)
                try await registry.removeMachine(live.id)  // its presence ran out
                try await eventually("the machine registered again") {
                    try await (registry.store.getIfPresent(registry.keys.machine(live.id))?.createdIndex ?? 0) > index
                }
                try await Task.sleep(for: .milliseconds(300))  // the full pass after the return
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(await systemd.starts[name.rawValue] == 1, "started once, never again")
        #expect(await systemd.stops[name.rawValue] == nil, "never stopped (a stop leaves it running for a restart)")
    }
}
