import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle

/// Runs this machine's share of the cluster: keeps the machine's presence alive, makes local
/// systemd match the units the engine assigned here, and publishes their states.
///
/// It watches only `schedule/<this machine>/`, and learns unit states from systemd's D-Bus
/// signals, so nothing here polls. On a graceful shutdown it stops and unloads its units and
/// withdraws the machine at once, so the engine moves them without waiting for a TTL.
public struct Agent: Service {
    public struct Configuration: Sendable {
        public var machine: MachineRecord
        /// Presence and unit-state TTL in seconds (fleet's `agent_ttl`).
        public var ttl: Int64
        /// Called once the machine's presence is in the store (fleetd opens its API then).
        public var onRegistered: @Sendable () -> Void

        public init(machine: MachineRecord, ttl: Int64 = 30, onRegistered: @escaping @Sendable () -> Void = {}) {
            self.machine = machine
            self.ttl = ttl
            self.onRegistered = onRegistered
        }
    }

    let registry: Registry
    let units: any UnitManager
    let configuration: Configuration
    let logger: Logger
    let local: LocalUnits
    let registrar: Registrar
    let states: StatePublisher

    public init(registry: Registry, units: any UnitManager, configuration: Configuration, logger: Logger,
                discoveryRoot: String = "/discovery") {
        self.registry = registry
        self.units = units
        self.configuration = configuration
        self.logger = logger
        let local = LocalUnits(machine: configuration.machine.id)
        self.local = local
        let machine = configuration.machine.id, ttl = configuration.ttl
        self.states = StatePublisher { [registry, logger] unit, operation in
            do {
                switch operation {
                case .publish:
                    guard let record = await local.stateRecord(unit) else { return }  // unloaded meanwhile
                    try await registry.publishState(record, ttl: ttl)
                case .remove:
                    try await registry.removeState(unit, machine)
                }
            } catch {
                logger.warning("writing unit state failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            }
        }
        self.registrar = Registrar(store: registry.store, machineID: configuration.machine.id.rawValue,
                                   address: configuration.machine.publicIP, ttl: configuration.ttl,
                                   root: discoveryRoot, logger: logger)
    }

    var machineID: MachineID { configuration.machine.id }

    public func run() async throws {
        try await registry.publishMachine(configuration.machine, ttl: configuration.ttl)
        logger.info("machine registered", metadata: ["machine.id": "\(machineID)"])
        configuration.onRegistered()
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await keepPresence() }
                group.addTask { await watchAssignments(wake: wake) }
                group.addTask { await publishStateChanges() }
                group.addTask { await refreshStates() }
                for await _ in wakeups {
                    await reconcile()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            wake.finish()
        }
        await purge()
    }

    /// Makes local systemd match this machine's assignments.
    func reconcile() async {
        do {
            let desired = try await registry.assignments(machineID)
            let plan = await local.plan(desired: desired)
            try await carryOut(plan)
        } catch {
            logger.warning("agent reconcile failed; retrying on the next change",
                           metadata: ["machine.id": "\(machineID)", "error": "\(error)"])
        }
    }

    func carryOut(_ plan: AgentPlan) async throws {
        // systemd finds a new unit file by itself on the unit's first start; only a changed or
        // removed one needs a daemon-reload (one per batch), which costs more the more units
        // the manager has.
        var needsReload = false
        for unit in plan.unload {
            try await units.stop(unit.rawValue)
            await units.unwatch(unit.rawValue)
            needsReload = try await units.removeUnitFile(unit.rawValue) || needsReload
            try await units.resetFailed(unit.rawValue)
            await local.forget(unit)
            await registrar.forget(unit)
            await states.enqueue(unit, .remove)
            logger.info("unit unloaded", metadata: ["unit.name": "\(unit)"])
        }
        var files: [UnitName: UnitFile] = [:]
        for (unit, hash) in plan.load {
            guard let file = try await unitFile(hash) else {
                logger.warning("unit contents missing from the store", metadata: ["unit.name": "\(unit)"])
                continue
            }
            files[unit] = file
            needsReload = try await units.writeUnitFile(unit.rawValue, contents: file.normalizedText) == .modified
                || needsReload
        }
        if needsReload { try await units.reload() }
        for (unit, hash) in plan.load {
            guard let file = files[unit] else { continue }
            await local.loaded(unit, hash: hash)
            await registrar.loaded(unit, file: file)
        }
        await units.watch(plan.load.map(\.0).filter { files[$0] != nil }.map(\.rawValue))
        for unit in plan.stop {
            try await units.stop(unit.rawValue)
            await local.setJobState(unit, .loaded)
            await states.enqueue(unit, .publish)
        }
        // The (durable) state writes go out from the publisher while the next starts are sent.
        if !plan.start.isEmpty {
            let failures = try await units.start(plan.start.map(\.rawValue))
            for unit in plan.start {
                if let error = failures[unit.rawValue] {
                    // Stays loaded; the next reconcile (a change, or the periodic resync) tries again.
                    logger.warning("unit start failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
                    continue
                }
                await local.setJobState(unit, .launched)
                await states.enqueue(unit, .publish)
            }
        }
        if !plan.start.isEmpty {
            logger.info("units started", metadata: ["agent.started": "\(plan.start.count)"])
        }
    }

    /// Unit contents by hash: fetched from the store once, then from the cache (contents never
    /// change under a hash, and the instances of one template share theirs).
    func unitFile(_ hash: UnitHash) async throws -> UnitFile? {
        if let cached = await local.file(hash) { return cached }
        guard let file = try await registry.unitFile(hash) else { return nil }
        await local.remember(file, hash: hash)
        return file
    }

    /// Publishes each state systemd signals for a unit this agent runs.
    func publishStateChanges() async {
        for await change in units.stateChanges {
            guard let unit = try? UnitName(change.unit) else { continue }
            guard await local.systemdStateChanged(unit, change.state) else { continue }
            await registrar.systemdStateChanged(unit, change.state)
            await states.enqueue(unit, .publish)
        }
    }

    func watchAssignments(wake: AsyncStream<Void>.Continuation) async {
        let key = registry.keys.schedule(machineID)
        while !Task.isCancelled {
            do {
                let from = try await registry.store.currentIndex() + 1
                wake.yield()
                for try await _ in try await registry.store.watch(key, recursive: true, fromIndex: from) {
                    wake.yield()
                }
            } catch {
                logger.debug("assignment watch broke; resuming", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Refreshes the presence key every third of the TTL; re-publishes it if it had expired.
    func keepPresence() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(Double(configuration.ttl) / 3))
            if Task.isCancelled { return }
            do {
                if try await !registry.refreshMachine(machineID, ttl: configuration.ttl) {
                    try await registry.publishMachine(configuration.machine, ttl: configuration.ttl)
                    logger.warning("presence had expired; machine registered again", metadata: ["machine.id": "\(machineID)"])
                }
            } catch {
                logger.warning("presence refresh failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Re-publishes every unit state well within its TTL, so live units never drop out.
    func refreshStates() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(Double(configuration.ttl) * 2 / 5))
            if Task.isCancelled { return }
            for unit in await local.names() { await states.enqueue(unit, .publish) }
            await registrar.refreshAll()
        }
    }

    /// Graceful shutdown: stop and unload every unit here, withdraw states and presence now.
    func purge() async {
        let plan = await local.plan(desired: [:])
        do {
            try await carryOut(plan)
            await states.drain()
            try await registry.removeMachine(machineID)
            logger.info("machine withdrawn", metadata: ["machine.id": "\(machineID)"])
        } catch {
            logger.warning("shutdown purge incomplete", metadata: ["error": "\(error)"])
        }
    }
}
