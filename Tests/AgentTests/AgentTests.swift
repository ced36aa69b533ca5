import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The agent against the in-memory stand-in for systemd (named as such); the same behaviour is
/// checked against real systemd on simulated machines in Tests/cluster.
@Suite struct AgentTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let machine = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1")


    @Test func runsAssignedUnitsAndPublishesTheirStates() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30, drainOnStop: true),
                          logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let name = try UnitName("web@1.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("the machine registered") { try await !registry.machines().isEmpty }
                try await registry.setTarget(name, machine.id)
                try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
                try await eventually("web@1 is published active and launched") {
                    try await registry.states().contains { $0.name == name && $0.activeState == .active && $0.jobState == .launched }
                }
                #expect(try await systemd.state(of: name.rawValue).activeState == .active)

                try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .loaded))
                try await eventually("web@1 is stopped") {
                    try await registry.states().contains { $0.name == name && $0.activeState == .inactive && $0.jobState == .loaded }
                }

                try await registry.removeAssignment(machine.id, name)
                try await eventually("web@1's state is withdrawn") { try await registry.states().isEmpty }
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(try await registry.machines().isEmpty, "a draining stop withdraws the machine at once")
    }

    @Test func drainOnStopStopsAndUnloadsEveryUnitAndWithdrawsTheMachine() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30, drainOnStop: true),
                          logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let name = try UnitName("db.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await eventually("db is active") {
                    try await registry.states().contains { $0.activeState == .active }
                }
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(try await systemd.state(of: "db.service").activeState != .active)
        #expect(await systemd.unitFiles["db.service"] == nil, "its file is removed")
        #expect(try await registry.states().isEmpty)
        #expect(try await registry.machines().isEmpty, "the engine may move its units at once")
    }

    /// A stop (SIGTERM) for a restart or an upgrade: the units keep running and the machine stays
    /// present, and a second agent on the same systemd adopts them without stopping or starting
    /// anything.
    @Test func aStopLeavesUnitsRunningAndARestartAdoptsThem() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let name = try UnitName("db.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        for run in 1...2 {
            let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
            try await testGracefulShutdown { shutdown in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await agent.run() }
                    try await eventually("db is published active (run \(run))") {
                        try await registry.states().contains { $0.name == name && $0.activeState == .active && $0.jobState == .launched }
                    }
                    shutdown.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            #expect(try await systemd.state(of: name.rawValue).activeState == .active, "db keeps running after stop \(run)")
            #expect(try await registry.machines().map(\.id) == [machine.id], "the presence stays until its TTL")
            #expect(try await registry.states().contains { $0.name == name }, "so does db's state")
        }
        #expect(await systemd.starts[name.rawValue] == 1, "started by the first agent only; the second adopted it")
        #expect(await systemd.stops[name.rawValue] == nil, "never stopped")
    }
}
