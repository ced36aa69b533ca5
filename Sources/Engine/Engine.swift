import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import Logging
import ServiceLifecycle

/// The cluster scheduler. Every fleetd runs one; the one holding the lease in the store leads,
/// and only the leader places units. A dead leader's lease expires and another takes over.
///
/// Event-driven: a pass runs when units or machines change (a store watch), with coalescing,
/// and on the lease-renewal tick (a third of the lease TTL) as a safety net.
public struct Engine: Service {
    public struct Configuration: Sendable {
        public var machine: MachineID
        /// Lease time-to-live in seconds; the lease is renewed every third of it.
        public var leaseTTL: Int64
        public var metrics: EngineMetrics
        /// How long a wake-up waits for more changes before the pass: a burst (200 units
        /// started at once) then costs a few passes, not one per unit.
        public var settle: Duration
        /// The clock the lease's local deadline is kept on (``EngineLease``); tests move it by hand.
        public var now: @Sendable () -> ContinuousClock.Instant
        /// How long a machine whose presence vanished keeps the units moving would not help (its
        /// global units, units no other machine can run): see ``AwayMachines``.
        public var awayGrace: Duration

        public init(machine: MachineID, leaseTTL: Int64 = 10, metrics: EngineMetrics = EngineMetrics(),
                    settle: Duration = .milliseconds(25),
                    now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
                    awayGrace: Duration = .seconds(15 * 60)) {
            self.machine = machine
            self.leaseTTL = leaseTTL
            self.metrics = metrics
            self.settle = settle
            self.now = now
            self.awayGrace = awayGrace
        }
    }

    let registry: Registry
    let configuration: Configuration
    let logger: Logger
    let cache = RequirementsCache()
    /// Contents by hash, so a unit's requirements parse without a read per unit.
    let unitFiles = UnitFileCache()
    /// The cluster as the watch reports it, so a pass needs no reads (see ``ClusterModel``).
    let feed = ModelFeed()
    let away: AwayMachines
    /// The model generation and lease term of the last pass that completed (``reconcileFromModel(lease:)``).
    let lastPlanned = LastPlanned()

    public init(registry: Registry, configuration: Configuration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.away = AwayMachines(grace: configuration.awayGrace)
    }

    public func run() async throws {
        let wake = Wakeups()
        let role = EngineRole()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await watchForChanges(wake: wake, role: role) }
                group.addTask { await tick(every: .seconds(Double(configuration.leaseTTL) / 3), wake: wake, role: role) }
                wake.signal()
                var lease: EngineLease?
                var lastPass: ContinuousClock.Instant?
                for await _ in wake.stream {
                    // A change after a quiet spell is placed at once (one `fleetctl start` waits
                    // for nobody); a wake-up close behind a pass waits `settle` for more, so a
                    // burst costs a few passes, not one per unit.
                    if let lastPass, ContinuousClock.now - lastPass < configuration.settle * 4 {
                        try? await Task.sleep(for: configuration.settle)
                    }
                    guard wake.take() else { continue }  // already covered by the last pass
                    lease = await leadAndReconcile(holding: lease, role: role)
                    role.set(leading: lease != nil)
                    lastPass = .now
                }
                role.finish()
                if let lease { try? await registry.releaseLease(lease.term) }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            wake.finish()
        }
    }

    /// One wake-up: renew (or take) the lease, and if this machine leads, run a pass whose
    /// every write is fenced by the lease's term.
    ///
    /// Leadership ends at once, without retrying anything, when the lease was not renewed within
    /// its TTL (checked first: a process that stalled must not act on what it believed), when
    /// renewing fails or finds another term, and when a fenced write's guard fails.
    /// - Parameters:
    ///   - held: the lease after the previous wake-up, nil when not leading.
    ///   - role: told whether the store answered that another machine holds the lease.
    /// - Returns: the lease held now, nil when not leading.
    func leadAndReconcile(holding held: EngineLease?, role: EngineRole? = nil) async -> EngineLease? {
        var held = held
        if let lease = held, lease.isOverdue(at: configuration.now()) {
            lost(lease, LeadershipLoss(.renewalOverdue, "lease \(lease.term) not renewed within its TTL"))
            held = nil
        }
        if let lease = held, configuration.now() < lease.renewedAt + Self.renewalReuse(ttl: lease.ttl) {
            // Renewed moments ago: a burst of wake-ups (a start of 200 units wakes the engine
            // every few tens of milliseconds) plans under the lease it holds, with five sixths
            // of its TTL left, instead of writing the lease before every pass. Every write of
            // the pass is still fenced by the term, so a lease lost meanwhile ends the pass at
            // its first write. The tick (every third of the TTL) renews it; one that falls in
            // this window leaves at most half the TTL between two renewals.
            return await reconcile(under: lease)
        }
        let sent = configuration.now()
        let term: LeaseTerm
        do {
            let renewed = try await registry.acquireLease(configuration.machine, ttl: configuration.leaseTTL)
            role?.set(leaseHeldElsewhere: renewed == nil)
            guard let renewed else {
                if let held { lost(held, LeadershipLoss(.takenOver, "the lease is another machine's")) }
                return nil
            }
            term = renewed
        } catch {
            role?.set(leaseHeldElsewhere: false)
            if let held { lost(held, LeadershipLoss(.renewalFailed, "\(error)")) }
            logger.debug("engine lease not renewed", metadata: ["error": "\(error)"])
            return nil
        }
        if let lease = held, lease.term != term {
            lost(lease, LeadershipLoss(.takenOver, "the lease lapsed and was taken again as \(term)"))
            held = nil
        }
        if held == nil {
            logger.info("engine leadership acquired",
                        metadata: ["machine.id": "\(configuration.machine)", "engine.term": "\(term.createdIndex)"])
            configuration.metrics.leadership(startedAt: Date().timeIntervalSince1970)
        }
        return await reconcile(under: EngineLease(term: term, renewedAt: sent, ttl: .seconds(configuration.leaseTTL)))
    }

    /// How long after a renewal a wake-up plans without renewing again: a sixth of the TTL.
    static func renewalReuse(ttl: Duration) -> Duration { ttl / 6 }

    /// A pass under `lease`; returns the lease while still leading, nil when the pass found it
    /// lost.
    private func reconcile(under lease: EngineLease) async -> EngineLease? {
        do {
            try await reconcileFromModel(lease: lease)
        } catch let loss as LeadershipLoss {
            lost(lease, loss)
            return nil
        } catch let error as StoreError where error.code == .guardFailed {
            lost(lease, LeadershipLoss(.guardFailed, error.description))
            return nil
        } catch {
            // Still leading: the next wake-up renews and tries again.
            logger.warning("engine pass failed", metadata: ["error": "\(error)"])
        }
        return lease
    }

    /// Logs and counts the end of `lease`'s leadership.
    func lost(_ lease: EngineLease, _ loss: LeadershipLoss) {
        logger.info("engine leadership lost", metadata: [
            "machine.id": "\(configuration.machine)", "engine.term": "\(lease.term.createdIndex)",
            "engine.reason": "\(loss.reason)", "error": "\(loss.message)",
        ])
        configuration.metrics.leadershipLost(loss.reason.label)
    }

    /// Reads the cluster, plans, and writes the plan, counted in the metrics (a failure as
    /// `reconcile_failure{type="run"}`). Package-wide for tests and benchmarks; the running engine
    /// plans from its watch-fed model instead (``reconcileFromModel()``).
    package func reconcile() async throws { try await reconcile(lease: nil) }

    /// ``reconcile()``, with every write fenced by `lease` when one is given.
    /// - Returns: the store index of the last placement or assignment written, if any.
    @discardableResult
    func reconcile(lease: EngineLease?) async throws -> UInt64? {
        var written: UInt64?
        try await measured {
            async let units = registry.units()
            async let machines = registry.machines()
            async let assignments = registry.allAssignments()
            written = try await pass(units: try await units, machines: try await machines, assignments: try await assignments,
                                     lease: lease)
        }
        return written
    }

    /// A pass planned from the model the watch keeps. It first waits until the model shows the
    /// previous pass's placements and assignments; if that takes too long, or there is no model
    /// yet, it reads the registry like ``reconcile()``.
    package func reconcileFromModel() async throws { try await reconcileFromModel(lease: nil) }

    /// ``reconcileFromModel()``, with every write fenced by `lease` when one is given.
    func reconcileFromModel(lease: EngineLease?) async throws {
        if let written = feed.lastOwnWrite, !(await feed.waitUntilApplied(written, timeout: .seconds(1))) {
            logger.debug("engine model behind its own writes; reading the registry", metadata: ["store.index": "\(written)"])
            try await reloadModel()
        }
        guard let snapshot = feed.snapshot() else {
            // No model yet (this term's follow is still loading): the next pass, from the model,
            // must see these placements before it plans.
            if let written = try await reconcile(lease: lease) { feed.noteOwnWrite(written) }
            return
        }
        // The same model under the same term, with no machine's absence being timed, plans the
        // same nothing again: the safety-net tick of an idle cluster then only renews the lease.
        if lastPlanned.matches(snapshot.generation, lease?.term), away.isEmpty { return }
        try await measured {
            let written = try await pass(units: snapshot.units, machines: snapshot.machines,
                                         assignments: snapshot.assignments, lease: lease)
            if let written { feed.noteOwnWrite(written) }
        }
        lastPlanned.record(snapshot.generation, lease?.term)
    }

    /// Loads the model from the registry; for benchmarks, which then feed it with ``apply(_:)``.
    package func loadModel() async throws { try await reloadModel() }

    /// Applies one event of a recursive watch of the registry prefix to the model (benchmarks).
    package func apply(_ event: StoreEvent) { feed.apply(event) }

    /// Loads the model afresh from the registry (the watch goes on feeding it).
    func reloadModel() async throws {
        let index = try await registry.store.currentIndex()
        var model = ClusterModel(keys: registry.keys)
        try await model.load(from: registry)
        feed.reset(model, asOf: index)
    }

    func measured(_ body: () async throws -> Void) async throws {
        let start = ContinuousClock.now
        do {
            try await body()
        } catch {
            configuration.metrics.reconcileFailed("run")
            throw error
        }
        configuration.metrics.reconciled(in: ContinuousClock.now - start)
    }

    /// Plans from `units`, `machines` and `assignments` and writes the plan.
    ///
    /// With a `lease`, every write goes through ``Registry/fenced(by:)`` and is preceded by the
    /// lease's local deadline check, so a pass that outlives its lease stops at its next write.
    /// - Returns: the store index of the last placement or assignment written, if any.
    /// - Throws: ``LeadershipLoss`` or ``StoreError/Code/guardFailed`` once the lease is lost.
    func pass(units: [UnitRecord], machines: [MachineRecord],
              assignments: [MachineID: [UnitName: Assignment]], lease: EngineLease? = nil) async throws -> UInt64? {
        let live = Set(machines.map(\.id))
        let named = Set(assignments.keys).union(units.compactMap(\.target))
        let plan = Scheduler.plan(units: units, requirements: try await requirements(of: units),
                                  machines: machines, assignments: assignments,
                                  away: away.update(live: live, named: named, now: configuration.now()))
        let registry = lease.map { self.registry.fenced(by: $0.term) } ?? self.registry
        let now = configuration.now
        let checkLease: @Sendable () throws -> Void = { try lease?.check(at: now()) }
        let metrics = configuration.metrics
        metrics.reconcileFailed("machine_away", count: plan.unschedule.filter { !live.contains($0.1) }.count)
        metrics.reconcileFailed("schedule", count: plan.unplaceable.count)
        // Each phase's writes are independent, so they go out concurrently: the store batches
        // concurrent durable writes into one commit. Phases stay in order (unschedule before
        // schedule, placements before the assignments agents act on).
        try await concurrently(plan.unschedule, metrics, "unschedule", checking: checkLease) { unit, machine in
            try await registry.clearTarget(unit, from: machine)
        }
        let outcome = PlacementOutcome()
        try await concurrently(plan.schedule, metrics, "schedule", checking: checkLease) { unit, machine in
            do {
                outcome.written(try await registry.setTarget(unit, machine))
            } catch let error as StoreError where error.code == .nodeExists {
                // Placed meanwhile (by a previous leader, or a pass this one did not see yet):
                // not assigned here either; the next pass sees where it went.
                outcome.alreadyPlaced(unit)
            }
        }
        if !plan.schedule.isEmpty {
            logger.info("units scheduled", metadata: ["engine.scheduled": "\(plan.schedule.count)"])
        }
        try await concurrently(plan.unassign, metrics, "unassign", checking: checkLease) { machine, unit in
            try await registry.removeAssignment(machine, unit)
        }
        let skipped = outcome.skipped
        // Counted in the pass's last write as well: a next pass that saw the placements but not
        // yet these assignments would write them all again.
        try await concurrently(plan.assign.filter { !skipped.contains($0.1) }, metrics, "assign", checking: checkLease) { machine, unit, assignment in
            outcome.written(try await registry.setAssignment(machine, unit, assignment))
        }
        for unit in units where unit.unplaceableReason != plan.unplaceable[unit.name] {
            try checkLease()
            try await registry.setUnplaceable(unit.name, reason: plan.unplaceable[unit.name])
            if let reason = plan.unplaceable[unit.name] {
                logger.info("unit cannot be placed", metadata: ["unit.name": "\(unit.name)", "reason": "\(reason)"])
            }
        }
        return outcome.lastIndex
    }

    /// Runs `write` for every item, at most 32 at once, each after `check` passed; the first
    /// failure wins and no further write starts. Counted as engine tasks of `type`.
    func concurrently<T: Sendable>(_ items: [T], _ metrics: EngineMetrics, _ type: String,
                                   checking check: @escaping @Sendable () throws -> Void = {},
                                   _ write: @escaping @Sendable (T) async throws -> Void) async throws {
        metrics.tasks(type, count: items.count)
        let write: @Sendable (T) async throws -> Void = { item in
            try check()
            do { try await write(item) } catch {
                metrics.taskFailed(type)
                throw error
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = items.makeIterator()
            for _ in 0..<32 {
                guard let item = next.next() else { break }
                group.addTask { try await write(item) }
            }
            while try await group.next() != nil {
                if let item = next.next() { group.addTask { try await write(item) } }
            }
        }
    }

    /// Each unit's `[X-Fleet]` requirements. Unit files are content-addressed, so parsed
    /// requirements are cached by hash for the life of the engine.
    func requirements(of units: [UnitRecord]) async throws -> [UnitName: XFleetRequirements] {
        var result: [UnitName: XFleetRequirements] = [:]
        var uncached: [UnitRecord] = []
        for unit in units {
            if let cached = await cache.requirements(unit.name, unit.hash) {
                result[unit.name] = cached
            } else {
                uncached.append(unit)
            }
        }
        // New units' contents read together, each distinct hash once (200 instances of one
        // template are one read, not 200 round trips one after another).
        let files = uncached.isEmpty ? [:] : try await unitFiles.files(uncached.map(\.hash), from: registry)
        for unit in uncached {
            guard let file = files[unit.hash] else { continue }
            let requirements = XFleetRequirements(unit: unit.name, file: file)
            await cache.store(unit.name, unit.hash, requirements)
            result[unit.name] = requirements
        }
        await cache.retain(only: units.map { ($0.name, $0.hash) })
        return result
    }

    /// Follows what this engine needs, switching when its role does: the whole registry while
    /// it leads (``followRegistry(wake:)``), only the lease key otherwise (``followLease(wake:)``).
    /// Leaving the lead forgets the model, so a later term starts from a fresh load, never from
    /// a model that stopped being fed.
    func watchForChanges(wake: Wakeups, role: EngineRole) async {
        while !Task.isCancelled {
            let leading = role.isLeading
            await withTaskGroup(of: Void.self) { group in
                group.addTask { leading ? await followRegistry(wake: wake) : await followLease(wake: wake) }
                group.addTask { await role.changed(from: leading) }
                await group.next()
                group.cancelAll()
            }
            if leading { feed.clear() }
        }
    }

    /// Feeds the model from a recursive follow of the registry (``KeyValueStore/follow(_:recursive:options:load:)``:
    /// a fresh model on every snapshot, then event by event), and wakes the loop on every
    /// snapshot and when a unit's desired state or contents change, a machine comes or goes, or
    /// the lease key goes (so leadership lost to an expiry is noticed at once). The engine's own
    /// writes (targets, schedules) and agents' states update the model but do not wake it. A
    /// follow silent for the lease TTL is made anew.
    func followRegistry(wake: Wakeups) async {
        let keys = registry.keys
        let options = StoreFollowOptions(maxSilence: .seconds(max(configuration.leaseTTL, 1)),
                                         counters: StoreFollowCounters(follower: "engine", factory: configuration.metrics.factory))
        let changes = registry.store.follow(keys.prefix, recursive: true, options: options) { [registry] in
            var model = ClusterModel(keys: keys)
            try await model.load(from: registry)
            return model
        }
        for await change in changes {
            switch change {
            case let .snapshot(model, index):
                feed.reset(model, asOf: index)
                wake.signal()  // anything up to the load is covered by this pass
            case let .event(event):
                feed.apply(event)
                let key = event.node.key
                // Its own outputs (targets, reasons) must not wake the engine again, nor a new
                // unit's desired state, written just before its job object: a pass woken by it
                // would find no unit, and the job object's own wake-up would then wait out the
                // settle time behind it (one unit started 20-30 ms later).
                if StoreKey.isWithin(key, keys.machines)
                    || (StoreKey.isWithin(key, keys.jobs) && !key.hasSuffix("/target") && !key.hasSuffix("/unplaceable")
                        && !feed.isDesiredStateOfUnknownUnit(key))
                    || Self.leaseWent(event, keys: keys) {
                    wake.signal()
                }
            case let .lost(error):
                logger.info("engine watch lost; retrying", metadata: ["error": "\(error)"])
            case .restored:
                logger.info("engine watch restored")
            }
        }
    }

    /// While another machine leads: follows the lease key alone and wakes the loop when it goes
    /// (expired, deleted, released), so this machine takes over at once, not at its next tick.
    func followLease(wake: Wakeups) async {
        let keys = registry.keys
        let options = StoreFollowOptions(maxSilence: .seconds(max(configuration.leaseTTL, 1)),
                                         counters: StoreFollowCounters(follower: "engine_lease", factory: configuration.metrics.factory))
        for await change in registry.store.follow(keys.engineLease, recursive: false, options: options, load: {}) {
            switch change {
            case .snapshot:
                wake.signal()  // the lease may have gone while nothing was followed
            case let .event(event):
                if Self.leaseWent(event, keys: keys) { wake.signal() }
            case let .lost(error):
                logger.debug("engine lease watch lost; retrying", metadata: ["error": "\(error)"])
            case .restored:
                logger.debug("engine lease watch restored")
            }
        }
    }

    static func leaseWent(_ event: StoreEvent, keys: RegistryKeys) -> Bool {
        event.node.key == keys.engineLease && [.expire, .delete, .compareAndDelete].contains(event.action)
    }

    /// The safety net: while this engine leads, a pass every `interval` whatever the watch says,
    /// and now and then (every 100 ticks, about 5 minutes by default) a model read afresh from the
    /// registry: another's model must stay empty, or its first pass after taking over would plan
    /// from a model nothing had fed since.
    ///
    /// While the store says another machine leads, a try for the lease every ``followerTicks``
    /// ticks (about the lease TTL) only: ``followLease(wake:)`` wakes the loop the moment the
    /// lease goes, so these tries are a backstop, and each is a store write the store's machine
    /// serves. After a try the store did not answer, every tick tries again.
    func tick(every interval: Duration, wake: Wakeups, role: EngineRole) async {
        var ticks = 0
        var ticksFollowing = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            ticks += 1
            if role.isLeading {
                ticksFollowing = 0
                if ticks % 100 == 0 { try? await reloadModel() }
            } else if role.leaseHeldElsewhere {
                ticksFollowing += 1
                guard ticksFollowing % Self.followerTicks == 0 else { continue }
            }
            wake.signal()
        }
    }

    /// How many ticks apart a machine that does not lead tries for the lease on its own.
    static let followerTicks = 3
}
