@testable import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Testing

/// When the agent asks systemd to reload (issue 16: a reload stops the manager for about 0.1 s
/// with a few hundred units, and every destroy cost one on every machine). Part of
/// ``AgentReconcileTests``, whose harness it shares; Tests/cluster/ checks real systemd.
extension AgentReconcileTests {
    @Test func unloadingNeedsNoReloadButANewFileUnderAnUnloadedNameDoes() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let web = try UnitName("web.service")
        let first = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let second = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 2000\n")
        try await registry.createUnit(web, file: first, desiredState: .launched)
        try await registry.setAssignment(machine.id, web, Assignment(hash: first.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("web is started") { try await systemd.state(of: web.rawValue).activeState == .active }
            let afterStart = await systemd.reloadCount
            #expect(afterStart == 0, "a new file needs no reload")

            try await registry.removeAssignment(machine.id, web)
            try await eventually("web is unloaded") { await systemd.unitFiles[web.rawValue] == nil }
            #expect(await systemd.reloadCount == afterStart, "a removed file needs no reload")

            // The same name with other contents: systemd may still hold the old ones.
            try await registry.replaceUnit(web, file: second, desiredState: .launched)
            try await registry.setAssignment(machine.id, web, Assignment(hash: second.hash, desiredState: .launched))
            try await eventually("web runs its new contents") {
                let file = await systemd.unitFiles[web.rawValue] ?? ""
                let state = try await systemd.state(of: web.rawValue)
                return file.contains("sleep 2000") && state.activeState == .active
            }
            #expect(await systemd.reloadCount == afterStart + 1, "a new file under a removed name is reloaded first")
        }
    }

    /// The names removed without a reload stay bounded: past ``LocalUnits/maxRemovedBeforeReload``
    /// the batch reloads and the list starts again.
    @Test func manyRemovalsEndInOneReload() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let count = LocalUnits.maxRemovedBeforeReload + 10
        let names = try (0..<count).map { try UnitName("job@\($0).service") }
        try await registry.createUnit(names[0], file: file, desiredState: .loaded)
        for name in names {
            try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .loaded))
        }
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            // (the agent's own fence timer has files too)
            try await eventually("all are loaded") { await systemd.unitFiles.keys.count { $0.hasPrefix("job@") } == count }
            #expect(await systemd.reloadCount == 0)
            for name in names { try await registry.removeAssignment(machine.id, name) }
            try await eventually("all are unloaded") { await !systemd.unitFiles.keys.contains { $0.hasPrefix("job@") } }
            try await eventually("one reload once past the bound") { await systemd.reloadCount >= 1 }
            #expect(await systemd.reloadCount <= 2, "not one per pass")
        }
    }
}
