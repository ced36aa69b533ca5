import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetTestSupport
import FleetUnit
import Testing

extension AgentReconcileTests {
    /// The assignment watch is a follower bounded in silence by the TTL: a watch that went
    /// silent without a word (a dead connection) is made anew, so a new assignment still starts
    /// long before the next full resync.
    @Test func anAssignmentWatchThatWentSilentIsMadeAnew() async throws {
        let store = FaultyStore()
        store.inject(.silent)
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let agent = Agent(registry: registry, units: systemd,
                          configuration: .init(machine: machine, ttl: 2, resyncInterval: .seconds(600)), logger: quiet)
        let web = try UnitName("web.service")
        try await running(agent) {
            try await eventually("the machine registered") { try await !registry.machines().isEmpty }
            try await eventually("the first assignment watch is open (and silent)") { !store.watchCalls.isEmpty }
            try await registry.createUnit(web, file: file, desiredState: .launched)
            try await registry.setAssignment(machine.id, web, Assignment(hash: file.hash, desiredState: .launched))
            try await eventually("the unit starts through a new watch, within the TTL") {
                try await systemd.state(of: web.rawValue).activeState == .active
            }
            #expect(store.watchCalls.count >= 2)
        }
    }
}
