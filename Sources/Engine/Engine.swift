import FleetRegistry
import FleetStore
import FleetUnit
import Logging
import ServiceLifecycle

/// The cluster scheduler. Every fleetd runs one; the one holding the lease in the store leads,
/// and only the leader places units. A dead leader's lease expires and another takes over.
///
/// Event-driven: a pass runs when units or machines change (a store watch), with coalescing,
/// and on a slow timer as a safety net and to renew the lease.
public struct Engine: Service {
    public struct Configuration: Sendable {
        public var machine: MachineID
        /// Lease time-to-live in seconds; the lease is renewed every third of it.
        public var leaseTTL: Int64
        /// A full pass runs at least this often even without events.
        public var resyncInterval: Duration

        public init(machine: MachineID, leaseTTL: Int64 = 10, resyncInterval: Duration = .seconds(30)) {
            self.machine = machine
            self.leaseTTL = leaseTTL
            self.resyncInterval = resyncInterval
        }
    }

    let registry: Registry
    let configuration: Configuration
    let logger: Logger

    public init(registry: Registry, configuration: Configuration, logger: Logger) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await watchForChanges(wake: wake) }
                group.addTask { await tick(every: .seconds(Double(configuration.leaseTTL) / 3), wake: wake) }
                wake.yield()
                var leading = false
                for await _ in wakeups {
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
            }
            if leading { try await reconcile() }
            return leading
        } catch {
            logger.warning("engine pass failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Reads the cluster, plans, and writes the plan. Public for tests and benchmarks.
    public func reconcile() async throws {
        async let units = registry.units()
        async let machines = registry.machines()
        async let assignments = registry.allAssignments()
        let plan = Scheduler.plan(units: try await units, machines: try await machines,
                                  assignments: try await assignments)
        for (unit, machine) in plan.unschedule {
            try await registry.clearTarget(unit, from: machine)
            logger.debug("unit unscheduled", metadata: ["unit.name": "\(unit)", "machine.id": "\(machine)"])
        }
        for (unit, machine) in plan.schedule {
            do {
                try await registry.setTarget(unit, machine)
                logger.info("unit scheduled", metadata: ["unit.name": "\(unit)", "machine.id": "\(machine)"])
            } catch let error as StoreError where error.code == .nodeExists {
                continue  // placed meanwhile by a previous leader; the next pass sees it
            }
        }
        for (machine, unit) in plan.unassign { try await registry.removeAssignment(machine, unit) }
        for (machine, unit, assignment) in plan.assign { try await registry.setAssignment(machine, unit, assignment) }
        for (unit, reason) in plan.unplaceable {
            logger.info("unit cannot be placed", metadata: ["unit.name": "\(unit)", "reason": "\(reason)"])
        }
    }

    /// Wakes the loop when a unit's desired state or contents change or a machine comes or goes.
    /// The engine's own writes (targets, schedules) and agents' states do not wake it.
    func watchForChanges(wake: AsyncStream<Void>.Continuation) async {
        let keys = registry.keys
        while !Task.isCancelled {
            do {
                let from = try await registry.store.currentIndex() + 1
                wake.yield()  // anything before `from` is covered by this pass
                for try await event in try await registry.store.watch(keys.prefix, recursive: true, fromIndex: from) {
                    let key = event.node.key
                    if StoreKey.isWithin(key, keys.machines)
                        || (StoreKey.isWithin(key, keys.jobs) && !key.hasSuffix("/target")) {
                        wake.yield()
                    }
                }
            } catch {
                logger.debug("engine watch broke; resuming", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    func tick(every interval: Duration, wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            wake.yield()
        }
    }
}
