import FleetAgent
import FleetEngine
import FleetRegistry
import FleetStore
import FleetStoreEmbedded
import FleetStoreEtcd
import FleetSystemd
import FleetUnit
import Foundation
import Logging

/// Issue 16, item 5: MACHINES real agents (each with its own `InMemoryUnitManager`, the systemd
/// stand-in) and one engine in this process, on one store (the durable embedded store, or a real
/// etcd with `--etcd`). It creates UNITS units as the API does, times until the store reports
/// every one active, loses one machine (its agent cancelled without withdrawing anything) and
/// times until its units are active elsewhere; it counts store writes by the store's index.
///
/// Everything is observed through the store (``Registry/states()``, ``Registry/machines()``,
/// watches), never inside the stand-ins, so the figures are what a client of the API would see.
/// Only public APIs of `Agent`, `Engine` and `Registry` are used, so the benchmark keeps working
/// when how agents publish states changes.
enum ScaleBenchmark {
    static let clock = ContinuousClock()
    /// How often the waits read the store: the resolution of the times below.
    static let poll = Duration.milliseconds(100)

    static func run(_ options: ScaleOptions) async throws {
        let deadline = clock.now + .seconds(options.timeoutSeconds)
        let logger = Logger(label: "fleet-bench.scale") { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let opened = try openStore(options)
        let registry = Registry(store: opened.store)
        var running = Running(store: opened)
        do {
            try await measure(options, registry: registry, running: &running, deadline: deadline, logger: logger)
        } catch {
            await running.stop(registry: registry)
            throw error
        }
        await running.stop(registry: registry)
    }

    /// What is running and must be stopped, whether the run succeeded or not.
    struct Running {
        var store: OpenedStore
        var agents: [MachineID: Task<Void, Never>] = [:]
        var engine: Task<Void, Never>?

        mutating func stop(registry: Registry) async {
            for task in agents.values { task.cancel() }
            engine?.cancel()
            for task in agents.values { await task.value }
            await engine?.value
            await store.close(registry: registry)
        }
    }

    static func measure(_ options: ScaleOptions, registry: Registry, running: inout Running,
                        deadline: ContinuousClock.Instant, logger: Logger) async throws {
        let store = registry.store
        report("\(options.machines) machines, \(options.units) units, agent TTL \(options.ttl) s, store: \(running.store.name)")
        report("systemd stand-in: each agent drives its own InMemoryUnitManager (no systemd, no processes;"
            + " a unit is active the moment it is started)")
        let cluster = try EngineBenchmark.makeCluster(machines: options.machines, units: options.units)
        let files = try (0..<options.units).map(EngineBenchmark.unitFile)
        try await registry.ensureCluster(create: true, by: cluster.machines[0].id)
        report("before the agents: \(ProcessUsage.now().summary)")

        // The agents and the engine, as fleetd runs them (the engine on the first machine).
        let startAgents = clock.now
        for machine in cluster.machines {
            let agent = Agent(registry: registry, units: InMemoryUnitManager(),
                              configuration: .init(machine: machine, ttl: options.ttl), logger: logger)
            running.agents[machine.id] = Task { try? await agent.run() }
        }
        let engine = Engine(registry: registry, configuration: .init(machine: cluster.machines[0].id), logger: logger)
        running.engine = Task { try? await engine.run() }
        let registered = try await waitUntil("all agents registered", deadline: deadline) {
            let count = try await registry.machines().count
            return (count == options.machines, "\(count) of \(options.machines) machines present")
        }
        report("\(options.machines) agents registered in \(seconds(registered - startAgents)); \(ProcessUsage.now().summary)")

        // Create every unit as the API does (48 at a time), then wait until all are active.
        let indexBefore = try await store.currentIndex()
        let usageBefore = ProcessUsage.now()
        let requested = clock.now
        try await createUnits(cluster.units.map(\.name), files: files, registry: registry,
                              concurrency: options.concurrency, deadline: deadline)
        let createdAt = clock.now
        report("\(options.units) units created (desired state launched) in \(seconds(createdAt - requested))")
        var readCost = Duration.zero
        let allActive = try await waitUntil("all units active", deadline: deadline) {
            let start = clock.now
            let active = try await activeUnits(registry, excluding: nil)
            readCost = clock.now - start
            return (active.count == options.units, "\(active.count) of \(options.units) units active")
        }
        let indexActive = try await store.currentIndex()
        let usageActive = ProcessUsage.now()
        let runTime = allActive - requested
        report("all \(options.units) units active \(seconds(runTime)) after the first create request"
            + " (store read every \(seconds(poll)) + its cost, last read \(seconds(readCost)))")
        report("store writes during the run: \(indexActive - indexBefore) index advance,"
            + " \(rate(indexActive - indexBefore, runTime))/s; CPU \(cpuShare(usageBefore, usageActive, runTime)); \(usageActive.summary)")

        if options.idleSeconds > 0 {
            try await idle(registry: registry, seconds: options.idleSeconds, machines: options.machines)
        }

        if options.samples > 0 {
            try await fanOut(registry: registry, machines: cluster.machines.map(\.id), samples: options.samples, deadline: deadline)
        }

        // Lose the machine with the most units: its agent stops dead, withdrawing nothing.
        let assignments = try await registry.allAssignments()
        guard let lost = assignments.filter({ $0.key != cluster.machines[0].id })
            .max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) })?.key,
              let lostUnits = assignments[lost].map({ Set($0.keys) }), let task = running.agents[lost]
        else { throw ScaleBenchmarkError(.setup, "no machine other than the engine's has units to lose") }
        let lostAt = clock.now
        task.cancel()
        var presenceGone: ContinuousClock.Instant?
        let replaced = try await waitUntil("the lost machine's units active elsewhere", deadline: deadline) {
            if presenceGone == nil {
                let present = try await registry.machines().contains { $0.id == lost }
                if !present { presenceGone = clock.now }
            }
            let elsewhere = try await activeUnits(registry, excluding: lost).intersection(lostUnits)
            return (elsewhere.count == lostUnits.count,
                    "\(elsewhere.count) of the lost machine's \(lostUnits.count) units active on other machines")
        }
        let gone = presenceGone.map { seconds($0 - lostAt) } ?? "not seen (re-placed first)"
        report("machine \(lost.short) lost with \(lostUnits.count) units: presence gone after \(gone);"
            + " all its units active elsewhere \(seconds(replaced - lostAt)) after the loss (target: TTL + 1 s = \(options.ttl + 1) s)")
        report("at the end: \(ProcessUsage.now().summary)")
    }

    /// Creates `names` through the registry with at most `concurrency` creations in flight.
    static func createUnits(_ names: [UnitName], files: [UnitFile], registry: Registry, concurrency: Int,
                            deadline: ContinuousClock.Instant) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < names.count else { return }
                let (name, file) = (names[next], files[next])
                next += 1
                group.addTask {
                    do {
                        try await registry.createUnit(name, file: file, desiredState: .launched)
                    } catch {
                        throw ScaleBenchmarkError(.storeFailed, "creating unit \(name): \(error)")
                    }
                }
            }
            for _ in 0..<concurrency { add() }
            while try await group.next() != nil {
                guard clock.now < deadline else {
                    group.cancelAll()
                    throw ScaleBenchmarkError(.timedOut, "creating units: \(next) of \(names.count) sent before the time limit (--timeout)")
                }
                add()
            }
        }
    }

    /// Units with an `active` state published by a machine other than `excluding`.
    static func activeUnits(_ registry: Registry, excluding machine: MachineID?) async throws -> Set<UnitName> {
        var active = Set<UnitName>()
        for state in try await registry.states() where state.activeState == .active && state.machineID != machine {
            active.insert(state.name)
        }
        return active
    }

    /// Reads every ``poll`` until `check` says done, and returns when it did; past `deadline`
    /// it throws with `check`'s last word on how far it got.
    static func waitUntil(_ what: String, deadline: ContinuousClock.Instant,
                          _ check: () async throws -> (done: Bool, progress: String)) async throws -> ContinuousClock.Instant {
        while true {
            let (done, progress) = try await check()
            if done { return clock.now }
            guard clock.now < deadline else {
                throw ScaleBenchmarkError(.timedOut, "\(what): not reached within the time limit (--timeout); \(progress)")
            }
            try await Task.sleep(for: poll)
        }
    }

    /// One line of the report, written at once (not held in stdout's buffer when that is a file),
    /// so a run cut short still shows what it measured.
    static func report(_ line: String) {
        FileHandle.standardOutput.write(Data(("scale: " + line + "\n").utf8))
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration.seconds) }

    static func rate(_ count: UInt64, _ duration: Duration) -> String {
        String(format: "%.0f", Double(count) / max(duration.seconds, 0.001))
    }

    /// The share of one core this process used between two readings.
    static func cpuShare(_ from: ProcessUsage, _ to: ProcessUsage, _ over: Duration) -> String {
        String(format: "%.0f %% of a core", (to.cpuSeconds - from.cpuSeconds) / max(over.seconds, 0.001) * 100)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
