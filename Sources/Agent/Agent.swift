import FleetDiscovery
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
/// signals, so nothing here polls. It also takes stock of systemd itself (anti-entropy): at
/// start, after every reconnect to the store and every ``Configuration/resyncInterval``, it
/// adopts the units fleet's marked files say it runs, without restarting those still assigned
/// here, and removes the rest (orphans of a crash or of a move). A graceful shutdown leaves the
/// units running and the presence in place, so a restart or an upgrade within the TTL adopts
/// them untouched (``Configuration/drainOnStop`` instead stops and unloads them and withdraws the
/// machine at once, so the engine moves them without waiting for a TTL).
public struct Agent: Service {
    public struct Configuration: Sendable {
        public var machine: MachineRecord
        /// Presence and unit-state TTL in seconds (fleet's `agent_ttl`).
        public var ttl: Int64
        /// How often the agent compares systemd with its assignments in full, as a safety net
        /// for anything an event did not tell it.
        public var resyncInterval: Duration
        /// What happens to units that set no `[X-Fleet] Isolation=` while the machine is cut off.
        public var defaultIsolation: UnitIsolation
        /// Load units whose name the host already has outside fleet's directory (`ssh.service`
        /// from `/lib`). Off by default: such a unit is refused (load state `refused`, sub state
        /// `host-unit`), so a cluster user cannot replace or stop a machine's own service.
        public var allowShadowing: Bool
        /// On a graceful stop, stop and unload every unit and withdraw the machine at once (taking
        /// it out of the cluster), instead of leaving everything running for a restart to adopt.
        public var drainOnStop: Bool
        /// Called once the machine's presence is in the store (fleetd opens its API then).
        public var onRegistered: @Sendable () -> Void

        public init(machine: MachineRecord, ttl: Int64 = 30, resyncInterval: Duration = .seconds(30),
                    defaultIsolation: UnitIsolation = .keep, allowShadowing: Bool = false,
                    drainOnStop: Bool = false, onRegistered: @escaping @Sendable () -> Void = {}) {
            self.machine = machine
            self.drainOnStop = drainOnStop
            self.allowShadowing = allowShadowing
            self.ttl = ttl
            self.resyncInterval = resyncInterval
            self.defaultIsolation = defaultIsolation
            self.onRegistered = onRegistered
        }

        /// How often presence is refreshed: a tenth of the TTL, between 0.5 and 3 seconds, so
        /// an outage of up to about 90 % of the TTL moves nothing (refreshes do not wake watchers
        /// and cost one small write per machine).
        public var presenceInterval: Duration {
            .milliseconds(min(3000, max(500, min(ttl, 30) * 100)))
        }

        /// The longest one presence refresh may take: twice the interval, at least one second,
        /// and never more than the TTL less the fence point, so that the fence timer re-armed
        /// after an answer always fires before the presence that answer bought runs out.
        public var refreshTimeout: Duration {
            min(max(presenceInterval * 2, .seconds(1)), .seconds(ttl) - fenceAfter)
        }

        /// How long after its last confirmed refresh an isolated machine stops its fenced units:
        /// the TTL less a margin (a tenth of the TTL, at least one second) for the stop itself
        /// and for clocks, so they are down before the engine can start them elsewhere. An
        /// outage shorter than this stops nothing.
        public var fenceAfter: Duration {
            let ttl = Duration.seconds(ttl)
            return ttl - max(.seconds(1), ttl / 10)
        }
    }

    /// How long the state of a unit just started waits for systemd to report it past
    /// `inactive` before it is published as it is (``LocalUnits/Local/publishHeld``): a start
    /// job that waits for another unit reports nothing until that one is up.
    static let startReportWait = Duration.milliseconds(100)

    let registry: Registry
    let units: any UnitManager
    let configuration: Configuration
    let logger: Logger
    let local: LocalUnits
    let registrar: Registrar
    let states: StatePublisher
    let requests = ReconcileRequests()
    let presence = PresenceClock()
    let lifetime: RecordLifetime
    /// Fired when contact with the store comes back, so the assignment watch is re-made (a
    /// stream that lived through a network cut may be dead without knowing it).
    let rewatch = Trigger()

    public init(registry: Registry, units: any UnitManager, configuration: Configuration, logger: Logger,
                discoveryKeys: DiscoveryKeys = .standard) {
        self.registry = registry
        self.units = units
        self.configuration = configuration
        self.logger = logger
        let local = LocalUnits(machine: configuration.machine.id)
        self.local = local
        let lifetime = RecordLifetime(ttl: configuration.ttl)
        self.lifetime = lifetime
        let writer = UnitStateWriter(registry: registry, local: local, machine: configuration.machine.id,
                                     lifetime: lifetime, logger: logger)
        self.states = StatePublisher { await writer.write($0, $1) }
        self.registrar = Registrar(store: registry.store, machineID: configuration.machine.id.rawValue,
                                   address: configuration.machine.publicIP, ttl: configuration.ttl,
                                   keys: discoveryKeys, logger: logger)
    }

    var machineID: MachineID { configuration.machine.id }

    public func run() async throws {
        let sent = ContinuousClock.now
        try await PresenceClaim(registry: registry, record: configuration.machine, ttl: configuration.ttl, logger: logger).claim()
        presence.confirmed(sentAt: sent)
        await chooseRecordLifetime()
        await installFence()
        logger.info("machine registered", metadata: ["machine.id": "\(machineID)"])
        configuration.onRegistered()
        requests.request(.full)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await keepPresence() }
                group.addTask { await watchAssignments() }
                group.addTask { await publishStateChanges() }
                group.addTask { await refreshStates() }
                group.addTask { await every(configuration.resyncInterval) { requests.request(.full) } }
                group.addTask { await watchForIsolation() }
                for await _ in requests.stream {
                    let pending = requests.take()
                    if pending.contains(.fence) { await fenceIfIsolated() }
                    if pending.contains(.full) {
                        await reconcile(full: true)
                    } else if pending.contains(.changes) {
                        await reconcile(full: false)
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            requests.finish()
        }
        if let duplicate = presence.heldByAnother {
            // The key is another fleetd's now: withdrawing anything would disturb it.
            logger.error("\(duplicate)", metadata: ["machine.id": "\(machineID)"])
            await states.close()
            await registrar.close()
            throw duplicate
        }
        if configuration.drainOnStop { await purge() } else { await leaveRunning() }
        await states.close()
        await registrar.close()
    }

    /// Runs `body` every `interval` until cancelled.
    func every(_ interval: Duration, _ body: () -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            body()
        }
    }

    /// Publishes each state systemd signals for a unit this agent runs.
    func publishStateChanges() async {
        for await change in units.stateChanges {
            if change.unit == FenceUnits.target {
                if change.state.activeState == .active { await fenceTimerFired() }
                continue
            }
            guard let unit = try? UnitName(change.unit) else { continue }
            guard await local.systemdStateChanged(unit, change.state) else { continue }
            await registrar.systemdStateChanged(unit, active: change.state.activeState == .active)
            // A unit being started is published once systemd reports it started
            // (``LocalUnits/Local/publishHeld``).
            guard await local.publishesReport(unit) else { continue }
            await states.enqueue(unit, .publish)
        }
    }

    /// Follows `schedule/<this machine>/` (``KeyValueStore/follow(_:recursive:options:load:)``);
    /// every snapshot and every change asks for a pass, since a snapshot means changes may have
    /// been missed. A follow silent for the TTL is made anew, and it is started afresh when
    /// contact with the store comes back after an outage (``rewatch``).
    func watchAssignments() async {
        let key = registry.keys.schedule(machineID)
        let options = StoreFollowOptions(maxSilence: .seconds(min(max(configuration.ttl, 1), 60)),
                                         counters: StoreFollowCounters(follower: "agent"))
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The pass reads the assignments itself: the snapshot only marks the moment.
                    for await change in registry.store.follow(key, recursive: true, options: options, load: {}) {
                        switch change {
                        case .snapshot, .event:
                            requests.request(.changes)
                        case let .lost(error):
                            logger.debug("assignment watch lost; retrying", metadata: ["error": "\(error)"])
                        case .restored:
                            logger.debug("assignment watch restored")
                        }
                    }
                }
                group.addTask { await rewatch.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Keeps every unit state alive well within its TTL where states have one, so live units
    /// never drop out: a TTL refresh when the stored state is current, a full write when it is
    /// not. States attached to the presence need nothing (``RecordLifetime``).
    func refreshStates() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(Double(configuration.ttl) * 2 / 5))
            if Task.isCancelled { return }
            guard lifetime.current.needsRefresh else { continue }
            // The store may have learnt to attach meanwhile (the fleetd holding it was upgraded):
            // then every state and record is written anew, attached, and refreshes end here.
            if await registry.store.supportsAttachedKeys() {
                await republishRecords()
                continue
            }
            // Unchanged states cost a TTL refresh, not a rewrite that wakes every watcher.
            for unit in await local.names() { await states.enqueue(unit, .refresh) }
            await registrar.refreshAll()
        }
    }

    /// Asks the store how this machine's states and discovery records can live (attached to the
    /// presence, or with their own TTL), at every registration: the fleetd holding the store may
    /// have been upgraded meanwhile.
    func chooseRecordLifetime() async {
        let chosen = await registry.recordLifetime(for: machineID, ttl: configuration.ttl)
        if chosen != lifetime.current {
            logger.info(chosen.needsRefresh ? "unit states and discovery records have their own TTL (the store cannot attach them)"
                            : "unit states and discovery records live as long as the machine's presence",
                        metadata: ["machine.id": "\(machineID)"])
        }
        lifetime.current = chosen
        await registrar.use(chosen)
    }

    /// Writes every unit state and discovery record again, after the machine registered anew:
    /// those attached to the presence that expired went with it.
    func republishRecords() async {
        await chooseRecordLifetime()
        for unit in await local.names() { await states.enqueue(unit, .publish) }
        await registrar.republishAll()
    }

    /// Graceful shutdown for a restart: touches nothing in systemd and nothing in the store but
    /// the unit states and discovery records still queued. Presence, states and discovery records live out their TTL,
    /// so a fleetd back within it adopts every unit with the same main PID and the engine moves
    /// nothing; one that does not come back is taken for dead after the TTL, and the fence timer
    /// (armed at the last refresh) has systemd stop the fenced units just before that.
    func leaveRunning() async {
        await states.drain()
        await registrar.drain()
        let running = await local.launched().count
        logger.notice("leaving \(running) units running for a restart; presence expires after the TTL unless fleetd is back",
                      metadata: ["machine.id": "\(machineID)", "agent.units_running": "\(running)", "agent.ttl": "\(configuration.ttl)"])
    }

    /// Graceful shutdown that takes the machine out of the cluster (``Configuration/drainOnStop``):
    /// stop and unload every unit here, withdraw states and presence now.
    func purge() async {
        let plan = await local.plan(desired: [:])
        await carryOut(plan)
        await states.drain()
        await registrar.drain()
        do {
            try await registry.withdrawMachine(configuration.machine)
            logger.notice("drained: every unit stopped and unloaded, machine withdrawn",
                          metadata: ["machine.id": "\(machineID)", "agent.units_unloaded": "\(plan.unload.count)"])
        } catch {
            logger.warning("shutdown purge incomplete", metadata: ["error": "\(error)"])
        }
    }
}
