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

        public init(machine: MachineID, leaseTTL: Int64 = 10, metrics: EngineMetrics = EngineMetrics(),
                    settle: Duration = .milliseconds(25)) {
            self.machine = machine
            self.leaseTTL = leaseTTL
            self.metrics = metrics
            self.settle = settle
        }
    }

    let registry: Registry
    let configuration: Configuration
    let logger: Logger
    let cache = RequirementsCache()

    public init(registry: Registry, configuration: Configuration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let wake = Wakeups()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await watchForChanges(wake: wake) }
                group.addTask { await tick(every: .seconds(Double(configuration.leaseTTL) / 3), wake: wake) }
                wake.signal()
                var leading = false
                for await _ in wake.stream {
                    try? await Task.sleep(for: configuration.settle)
                    guard wake.take() else { continue }  // already covered by the last pass
                    leading = await leadAndReconcile(wasLeading: leading)
                }
                if leading { try? await registry.releaseLease(configuration.machine) }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            wake.finish()
        }
    }

    /// One wake-up: hold the lease, and if this machine leads, run a pass. Returns leadership.
    func leadAndReconcile(wasLeading: Bool) async -> Bool {
        do {
            let leading = try await registry.acquireLease(configuration.machine, ttl: configuration.leaseTTL)
            if leading != wasLeading {
                logger.info(leading ? "engine leadership acquired" : "engine leadership lost",
                            metadata: ["machine.id": "\(configuration.machine)"])
                configuration.metrics.leadership(startedAt: leading ? Date().timeIntervalSince1970 : nil)
            }
            if leading { try await reconcile() }
            return leading
        } catch {
            logger.warning("engine pass failed", metadata: ["error": "\(error)"])
            if wasLeading { configuration.metrics.leadership(startedAt: nil) }
            return false
        }
    }

    /// Reads the cluster, plans, and writes the plan, counted in the metrics (a failure as
    /// `reconcile_failure{type="run"}`). Public for tests and benchmarks.
    public func reconcile() async throws {
        let start = ContinuousClock.now
        do {
            try await pass()
        } catch {
            configuration.metrics.reconcileFailed("run")
            throw error
        }
        configuration.metrics.reconciled(in: ContinuousClock.now - start)
    }

    func pass() async throws {
        async let unitsRead = registry.units()
        async let machines = registry.machines()
        async let assignments = registry.allAssignments()
        let units = try await unitsRead
        let plan = Scheduler.plan(units: units, requirements: try await requirements(of: units),
                                  machines: try await machines, assignments: try await assignments)
        // Each phase's writes are independent, so they go out concurrently: the store batches
        // concurrent durable writes into one commit. Phases stay in order (unschedule before
        // schedule, placements before the assignments agents act on).
        let metrics = configuration.metrics
        let live = Set(try await machines.map(\.id))
        metrics.reconcileFailed("machine_away", count: plan.unschedule.filter { !live.contains($0.1) }.count)
        metrics.reconcileFailed("schedule", count: plan.unplaceable.count)
        try await concurrently(plan.unschedule, metrics, "unschedule") { unit, machine in
            try await registry.clearTarget(unit, from: machine)
        }
        try await concurrently(plan.schedule, metrics, "schedule") { unit, machine in
            do {
                try await registry.setTarget(unit, machine)
            } catch let error as StoreError where error.code == .nodeExists {
                // placed meanwhile by a previous leader; the next pass sees it
            }
        }
        if !plan.schedule.isEmpty {
            logger.info("units scheduled", metadata: ["engine.scheduled": "\(plan.schedule.count)"])
        }
        try await concurrently(plan.unassign, metrics, "unassign") { machine, unit in
            try await registry.removeAssignment(machine, unit)
        }
        try await concurrently(plan.assign, metrics, "assign") { machine, unit, assignment in
            try await registry.setAssignment(machine, unit, assignment)
        }
        for unit in units where unit.unplaceableReason != plan.unplaceable[unit.name] {
            try await registry.setUnplaceable(unit.name, reason: plan.unplaceable[unit.name])
            if let reason = plan.unplaceable[unit.name] {
                logger.info("unit cannot be placed", metadata: ["unit.name": "\(unit.name)", "reason": "\(reason)"])
            }
        }
    }

    /// Runs `write` for every item, at most 32 at once; the first failure wins. Counted as
    /// engine tasks of `type`.
    func concurrently<T: Sendable>(_ items: [T], _ metrics: EngineMetrics, _ type: String,
                                   _ write: @escaping @Sendable (T) async throws -> Void) async throws {
        metrics.tasks(type, count: items.count)
        let write: @Sendable (T) async throws -> Void = { item in
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
        for unit in units {
            if let cached = await cache.requirements(unit.name, unit.hash) {
                result[unit.name] = cached
                continue
            }
            guard let file = try await registry.unitFile(unit.hash) else { continue }
            let requirements = XFleetRequirements(unit: unit.name, file: file)
            await cache.store(unit.name, unit.hash, requirements)
            result[unit.name] = requirements
        }
        await cache.retain(only: units.map { ($0.name, $0.hash) })
        return result
    }

    /// Wakes the loop when a unit's desired state or contents change or a machine comes or goes.
    /// The engine's own writes (targets, schedules) and agents' states do not wake it.
    func watchForChanges(wake: Wakeups) async {
        let keys = registry.keys
        while !Task.isCancelled {
            do {
                let from = try await registry.store.currentIndex() + 1
                wake.signal()  // anything before `from` is covered by this pass
                for try await event in try await registry.store.watch(keys.prefix, recursive: true, fromIndex: from) {
                    let key = event.node.key
                    // Its own outputs (targets, reasons) must not wake the engine again.
                    if StoreKey.isWithin(key, keys.machines)
                        || (StoreKey.isWithin(key, keys.jobs) && !key.hasSuffix("/target") && !key.hasSuffix("/unplaceable")) {
                        wake.signal()
                    }
                }
            } catch {
                logger.debug("engine watch broke; resuming", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    func tick(every interval: Duration, wake: Wakeups) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            wake.signal()
        }
    }
}
