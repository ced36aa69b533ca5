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

/// The agent's anti-entropy, refusals and fence, against the in-memory stand-in for systemd
/// (named as such); Tests/cluster checks the same against real systemd on simulated machines.
@Suite struct AgentReconcileTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let fenced = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nIsolation=stop\n")
    let machine = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1")
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// What an earlier fleetd wrote for `file` (the mark, then the text).
    func leftBehind(_ file: UnitFile) -> String {
        "# fleetd unit \(file.hash.hex); fleetd rewrites or removes this file, do not edit it\n" + file.normalizedText
    }


    /// Runs `agent` until `body` returns, then shuts it down gracefully.
    func running(_ agent: Agent, _ body: @Sendable () async throws -> Void) async throws {
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                try await body()
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }

    @Test func adoptsAnAssignedRunningUnitWithoutRestartingIt() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let name = try UnitName("web@1.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        await systemd.leaveBehind(name.rawValue, contents: leftBehind(file), running: true)  // fleetd was kill -9ed
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("web@1 is published active and launched") {
                try await registry.states().contains { $0.name == name && $0.activeState == .active && $0.jobState == .launched }
            }
            #expect(await systemd.stops[name.rawValue] == nil, "an adopted unit is never stopped")
            #expect(await systemd.starts[name.rawValue] == nil, "an adopted running unit is not started again")
        }
    }

    @Test func removesOrphansButNeverFilesThatAreNotFleets() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        await systemd.leaveBehind("moved.service", contents: leftBehind(file), running: true)  // assigned elsewhere now
        await systemd.leaveBehind("admin.service", contents: file.normalizedText, running: true)  // not fleet's
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("the orphan is stopped and its file removed") {
                let gone = await systemd.unitFiles["moved.service"] == nil
                let state = try await systemd.state(of: "moved.service").activeState
                return gone && state == .inactive
            }
            #expect(await systemd.unitFiles["admin.service"] != nil)
            #expect(try await systemd.state(of: "admin.service").activeState == .active)
        }
    }

    @Test func periodicResyncFindsOrphansLeftWhileRunning() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let agent = Agent(registry: registry, units: systemd,
                          configuration: .init(machine: machine, ttl: 30, resyncInterval: .milliseconds(100)), logger: quiet)
        try await running(agent) {
            try await eventually("the machine registered") { try await !registry.machines().isEmpty }
            await systemd.leaveBehind("stray.service", contents: leftBehind(file), running: true)
            try await eventually("the stray unit is removed by a periodic resync") {
                await systemd.unitFiles["stray.service"] == nil
            }
        }
    }

    @Test func refusesUnitsTheHostAlreadyHasAndKeepsWorking() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        await systemd.addHostUnits(["ssh.service"])
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        let ssh = try UnitName("ssh.service"), web = try UnitName("web.service")
        try await running(agent) {
            for unit in [ssh, web] {
                try await registry.createUnit(unit, file: file, desiredState: .launched)
                try await registry.setAssignment(machine.id, unit, Assignment(hash: file.hash, desiredState: .launched))
            }
            try await eventually("web runs and ssh is reported refused") {
                let states = try await registry.states()
                return states.contains { $0.name == web && $0.activeState == .active }
                    && states.contains { $0.name == ssh && $0.loadState == "refused" }
            }
            #expect(await systemd.unitFiles["ssh.service"] == nil, "the host's unit is never shadowed")
            #expect(await systemd.starts["ssh.service"] == nil)
            try await registry.removeAssignment(machine.id, ssh)
            try await eventually("ssh's refusal is withdrawn") { try await !registry.states().contains { $0.name == ssh } }
            #expect(await systemd.stops["ssh.service"] == nil, "the host's unit is never stopped")
        }
    }

    @Test func shadowsAHostUnitOnlyWhenTheAdminAllowsIt() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        await systemd.addHostUnits(["ssh.service"])
        let agent = Agent(registry: registry, units: systemd,
                          configuration: .init(machine: machine, ttl: 30, allowShadowing: true), logger: quiet)
        let ssh = try UnitName("ssh.service")
        try await running(agent) {
            try await registry.createUnit(ssh, file: file, desiredState: .launched)
            try await registry.setAssignment(machine.id, ssh, Assignment(hash: file.hash, desiredState: .launched))
            try await eventually("ssh runs from fleet's file") {
                try await registry.states().contains { $0.name == ssh && $0.activeState == .active }
            }
            #expect(await systemd.unitFiles["ssh.service"] != nil, "--allow-shadowing writes the unit")
        }
    }

    @Test func aUnitSystemdRefusesToStopDoesNotWedgeTheAgent() async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let stuck = try UnitName("stuck.service"), other = try UnitName("other.service"), late = try UnitName("late.service")
        await systemd.refuseStopping(stuck.rawValue)
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            for unit in [stuck, other] {
                try await registry.createUnit(unit, file: file, desiredState: .launched)
                try await registry.setAssignment(machine.id, unit, Assignment(hash: file.hash, desiredState: .launched))
            }
            try await eventually("both run") {
                try await registry.states().filter { $0.activeState == .active }.count == 2
            }
            try await registry.removeAssignment(machine.id, stuck)
            try await registry.removeAssignment(machine.id, other)
            try await registry.createUnit(late, file: file, desiredState: .launched)
            try await registry.setAssignment(machine.id, late, Assignment(hash: file.hash, desiredState: .launched))
            try await eventually("the other unit is unloaded and a new one starts despite the stuck one") {
                let gone = await systemd.unitFiles[other.rawValue] == nil
                let state = try await systemd.state(of: late.rawValue).activeState
                return gone && state == .active
            }
        }
    }

    @Test func aWipedStoreStopsNothing() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let name = try UnitName("db.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 2), logger: quiet)
        try await running(agent) {
            try await eventually("db runs") { try await systemd.state(of: name.rawValue).activeState == .active }
            try await store.apply(.delete(key: "/fleet", directory: true, recursive: true, condition: .none))
            try await eventually("the machine registered again after the wipe") { try await !registry.machines().isEmpty }
            try await Task.sleep(for: .milliseconds(300))  // lets the full pass that follows run
            #expect(await systemd.stops[name.rawValue] == nil, "assignments gone with the cluster key stop nothing")
            #expect(try await systemd.state(of: name.rawValue).activeState == .active)
        }
    }

    @Test func anEmptyStoreIsNoClusterUnlessAskedToMakeOne() async throws {
        let registry = Registry(store: InMemoryStore())
        await #expect(throws: NoClusterError.self) { try await registry.ensureCluster(create: false, by: machine.id) }
        try await registry.ensureCluster(create: true, by: machine.id)
        try await registry.ensureCluster(create: false, by: machine.id)
        try await registry.ensureCluster(create: true, by: machine.id)  // idempotent
        let older = Registry(store: InMemoryStore())  // a store an older fleetd filled: adopted as a cluster
        try await older.createUnit(try UnitName("a.service"), file: file, desiredState: .inactive)
        try await older.ensureCluster(create: false, by: machine.id)
        #expect(try await older.isCluster())
    }

    @Test func fenceStopsIsolatedUnitsBeforeTheTTLAndRestartsThemOnReturn() async throws {
        let store = CuttableStore(InMemoryStore())
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let keep = try UnitName("keep.service"), stop = try UnitName("fenced.service")
        try await registry.createUnit(keep, file: file, desiredState: .launched)
        try await registry.createUnit(stop, file: fenced, desiredState: .launched)
        try await registry.setAssignment(machine.id, keep, Assignment(hash: file.hash, desiredState: .launched))
        try await registry.setAssignment(machine.id, stop, Assignment(hash: fenced.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 4), logger: quiet)
        try await running(agent) {
            try await eventually("both run") {
                let kept = try await systemd.state(of: keep.rawValue).activeState
                let fenced = try await systemd.state(of: stop.rawValue).activeState
                return kept == .active && fenced == .active
            }
            let cut = ContinuousClock.now
            store.cut(true)
            // fenceAfter for a 4 s TTL is 3 s: the fenced unit must stop after it, before 4 s.
            // The stop's own time is what counts: this test's polling may be late on a busy machine.
            try await eventually("the fenced unit stops") {
                try await systemd.state(of: stop.rawValue).activeState != .active
            }
            let stoppedAt = try #require(await systemd.lastStopped[stop.rawValue], "the fenced unit was never stopped")
            let stoppedAfter = stoppedAt - cut
            #expect(stoppedAfter < .seconds(4), "the fenced unit stops before the TTL (took \(stoppedAfter))")
            #expect(stoppedAfter > .milliseconds(2500), "and not long before the fence point (took \(stoppedAfter))")
            #expect(try await systemd.state(of: keep.rawValue).activeState == .active, "an unfenced unit keeps running")
            store.cut(false)
            try await eventually("the fenced unit runs again once the machine is back") {
                try await systemd.state(of: stop.rawValue).activeState == .active
            }
            #expect(await systemd.stops[keep.rawValue] == nil)
        }
    }

    @Test func shortOutageStopsNothing() async throws {
        let store = CuttableStore(InMemoryStore())
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let stop = try UnitName("fenced.service")
        try await registry.createUnit(stop, file: fenced, desiredState: .launched)
        try await registry.setAssignment(machine.id, stop, Assignment(hash: fenced.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 4), logger: quiet)
        try await running(agent) {
            try await eventually("it runs") { try await systemd.state(of: stop.rawValue).activeState == .active }
            store.cut(true)
            try await Task.sleep(for: .seconds(2))  // the outage itself, shorter than the fence point (3 s)
            store.cut(false)
            try await eventually("presence is refreshed again") { try await !registry.machines().isEmpty }
            #expect(await systemd.stops[stop.rawValue] == nil, "an outage shorter than the fence point stops nothing")
        }
    }

    /// Issue 16: a state write that fails (a store call spanning a freeze of the fleetd, an
    /// election) is tried again within a second or so, not left until the resync (here 10 min).
    @Test func aStateWriteRefusedByTheStoreIsWrittenOnceItIsBack() async throws {
        let store = CuttableStore(InMemoryStore())
        let registry = Registry(store: store)
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let name = try UnitName("web@1.service")
        try await registry.createUnit(name, file: file, desiredState: .launched)
        try await registry.setAssignment(machine.id, name, Assignment(hash: file.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd,
                          configuration: .init(machine: machine, ttl: 30, resyncInterval: .seconds(600)), logger: quiet)
        try await running(agent) {
            try await eventually("web@1 is published active") {
                try await registry.states().contains { $0.name == name && $0.activeState == .active }
            }
            store.cut(true)
            let refusedBefore = store.refusedWrites
            await systemd.setState(name.rawValue, activeState: .failed, subState: "failed")
            try await eventually("the store refused the state write") { store.refusedWrites > refusedBefore }
            store.cut(false)
            try await eventually("the failed state is published without waiting for the resync") {
                try await registry.states().contains { $0.name == name && $0.activeState == .failed }
            }
        }
    }
}

/// A unit loaded and started in one pass is published once its start is sent, never as the
/// `loaded` state systemd first reports (issue 16: one store write per unit started, on etcd a
/// raft entry); a unit whose start fails is published as loaded.
@Suite struct AgentStartPublishTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let machine = MachineRecord(id: MachineID("m1"), publicIP: "10.0.0.1")
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func running(_ agent: Agent, _ body: @Sendable () async throws -> Void) async throws {
        try await AgentReconcileTests().running(agent, body)
    }

    func state(_ registry: Registry, _ name: UnitName) async throws -> UnitStateRecord? {
        try await registry.states().first { $0.name == name }
    }

    @Test(arguments: [false, true])
    func aStartedUnitIsNotPublishedLoadedFirst(startFails: Bool) async throws {
        let registry = Registry(store: InMemoryStore())
        try await registry.ensureCluster(create: true, by: machine.id)
        let systemd = InMemoryUnitManager()
        let marker = try UnitName("marker.service"), web = try UnitName("web@1.service")
        for name in [marker, web] { try await registry.createUnit(name, file: file, desiredState: .launched) }
        try await registry.setAssignment(machine.id, marker, Assignment(hash: file.hash, desiredState: .launched))
        let agent = Agent(registry: registry, units: systemd, configuration: .init(machine: machine, ttl: 30), logger: quiet)
        try await running(agent) {
            try await eventually("marker is published active") { try await state(registry, marker)?.activeState == .active }
            await systemd.holdStarts()
            try await registry.setAssignment(machine.id, web, Assignment(hash: file.hash, desiredState: .launched))
            try await eventually("the agent loaded web@1 and waits in its start") { await systemd.startsWaiting == 1 }
            // systemd reported web@1's first state when the agent watched it, before the start;
            // marker's change comes after it on the same stream and its publish after web@1's
            // would have been queued.
            await systemd.setState(marker.rawValue, activeState: .failed, subState: "failed")
            try await eventually("marker's change is published") { try await state(registry, marker)?.activeState == .failed }
            #expect(try await state(registry, web) == nil, "nothing published for web@1 while its start is on its way")
            if startFails { await systemd.failNextCall(with: SystemdError(code: .noSuchUnit, call: "StartUnit", unit: web.rawValue,
                                                                          busErrorName: nil, message: "refused for the test")) }
            await systemd.releaseStarts()
            if startFails {
                try await eventually("web@1 is published loaded after its start failed") {
                    try await state(registry, web).map { $0.jobState == .loaded && $0.activeState == .inactive } ?? false
                }
            } else {
                try await eventually("web@1 is published launched and active") {
                    try await state(registry, web).map { $0.jobState == .launched && $0.activeState == .active } ?? false
                }
            }
        }
    }
}

/// A store whose every call fails while it is cut, as when the network to it is down; watches
/// made before the cut stay open and silent, as a stream through a cut network does.
final class CuttableStore: KeyValueStore {
    let base: any KeyValueStore
    private let isCut = Mutex(false)
    private let refused = Mutex(0)

    /// Writes refused while cut, so far.
    var refusedWrites: Int { refused.withLock { $0 } }

    init(_ base: any KeyValueStore) { self.base = base }

    func cut(_ value: Bool) { isCut.withLock { $0 = value } }

    private func check() throws {
        if isCut.withLock({ $0 }) { throw StoreError(.unavailable, "the store is cut off") }
    }

    func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        try check()
        return try await base.get(key, recursive: recursive)
    }

    func apply(_ write: StoreWrite) async throws -> StoreEvent {
        do { try check() } catch {
            refused.withLock { $0 += 1 }
            throw error
        }
        return try await base.apply(write)
    }

    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error> {
        try check()
        return try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }

    func currentIndex() async throws -> UInt64 {
        try check()
        return try await base.currentIndex()
    }
}
