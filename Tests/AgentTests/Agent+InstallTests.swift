import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// `[Install]` sections (issue 12, item 4): enabled at runtime when the agent loads a unit that
/// has one, disabled when it unloads it, as fleet does for its sidekick pattern; against the
/// in-memory stand-in for systemd (Tests/cluster/sidekick.test.sh checks real systemd). Part of
/// ``AgentReconcileTests``, whose harness it shares.
extension AgentReconcileTests {
    @Test func aSidekicksInstallSectionIsEnabledOnLoadAndDisabledOnUnload() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let app = try UnitName("hello.service"), sidekick = try UnitName("hello-discovery.service")
        let appFile = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let sidekickFile = try UnitFile(parsing: """
            [Unit]
            BindsTo=hello.service
            After=hello.service
            [Service]
            ExecStart=/bin/sleep 1000
            [Install]
            WantedBy=hello.service
            [X-Fleet]
            MachineOf=hello.service
            """)
        for (name, file) in [(app, appFile), (sidekick, sidekickFile)] {
            try await registry.createUnit(name, file: file, desiredState: .loaded)
            try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .loaded))
        }
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("the sidekick's [Install] section is enabled") {
                await systemd.runtimeEnabled == [sidekick.rawValue]
            }
            #expect(await systemd.reloadCount >= 1, "a reload lets an already loaded app see its new Wants=")
            try await registry.removeAssignment(machine.id, sidekick)
            try await eventually("the sidekick is unloaded and its [Install] section disabled") {
                let gone = await systemd.unitFiles[sidekick.rawValue] == nil
                let enabled = await systemd.runtimeEnabled
                return gone && enabled.isEmpty
            }
            #expect(await systemd.unitFiles[app.rawValue] != nil)
        }
    }

    @Test func oneUnitSystemdWillNotEnableSpoilsNothingForTheOthers() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        await systemd.refuseEnabling("bad.service")
        for name in ["bad.service", "good.service"] {
            let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=\(name)-app.service\n")
            let unit = try UnitName(name)
            try await registry.createUnit(unit, file: file, desiredState: .launched)
            try await registry.setAssignment(machine.id, unit, Assignment(hash: file.hash, desiredState: .launched))
        }
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("both units run, the one systemd would not enable too") {
                let bad = try await systemd.state(of: "bad.service").activeState
                let good = try await systemd.state(of: "good.service").activeState
                return bad == .active && good == .active
            }
            #expect(await systemd.runtimeEnabled == ["good.service"])
        }
    }
}
