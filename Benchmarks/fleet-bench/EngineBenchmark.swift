import FleetEngine
import FleetRegistry
import FleetStore
import FleetUnit
import Logging

/// The engine at fleet's breaking point and ten times past it: 10,000 units on 1,000 machines
/// with a mix of constraints, then the re-placement after one machine is lost.
enum EngineBenchmark {
    struct Cluster {
        var units: [UnitRecord] = []
        var requirements: [UnitName: XFleetRequirements] = [:]
        var machines: [MachineRecord] = []
    }

    /// A deterministic cluster: machines in 4 regions, a quarter with ssd; units plain (60 %),
    /// region-constrained (20 %), region+ssd (10 %), conflicting pairs (10 %).
    static func makeCluster(machines machineCount: Int, units unitCount: Int) throws -> Cluster {
        var cluster = Cluster()
        for m in 0..<machineCount {
            var metadata = ["region": "r\(m % 4)"]
            if m % 4 == 0 { metadata["disk"] = "ssd" }
            let id = String(format: "%08x", m) + String(repeating: "0", count: 24)
            cluster.machines.append(MachineRecord(id: MachineID(id), publicIP: "10.1.\(m / 250).\(m % 250)", metadata: metadata))
        }
        for u in 0..<unitCount {
            let name = try UnitName("svc-\(u)@\(u % 7).service")
            let file = try unitFile(u)
            cluster.units.append(UnitRecord(name: name, hash: file.hash, desiredState: .launched))
            cluster.requirements[name] = XFleetRequirements(unit: name, file: file)
        }
        return cluster
    }

    /// Unit `u`'s file: plain (60 %), region (20 %), region+ssd (10 %), conflicting (10 %).
    static func unitFile(_ u: Int) throws -> UnitFile {
        var xfleet: [String] = []
        switch u % 10 {
        case 0, 1: xfleet = ["MachineMetadata=region=r\(u % 4)"]
        case 2: xfleet = ["MachineMetadata=region=r0", "MachineMetadata=disk=ssd"]
        case 3: xfleet = ["Conflicts=svc-\(u - 3 + 10)@*.service"]
        default: break
        }
        let text = "[Service]\nExecStart=/bin/sleep \(u)\n"
            + (xfleet.isEmpty ? "" : "[X-Fleet]\n" + xfleet.joined(separator: "\n") + "\n")
        return try UnitFile(parsing: text)
    }

    static func run(machines: Int, units: Int) async throws {
        var cluster = try makeCluster(machines: machines, units: units)
        let clock = ContinuousClock()
        var plan = SchedulingPlan()
        let place = clock.measure {
            plan = Scheduler.plan(units: cluster.units, requirements: cluster.requirements,
                                  machines: cluster.machines, assignments: [:])
        }
        print("scheduler: place \(units) units on \(machines) machines: \(place) (\(plan.schedule.count) placed, \(plan.unplaceable.count) unplaceable)")

        // Apply the plan, then lose the machine with the most units.
        let targets = [UnitName: MachineID](plan.schedule.map { ($0.unit, $0.machine) }, uniquingKeysWith: { _, b in b })
        for i in cluster.units.indices { cluster.units[i].target = targets[cluster.units[i].name] }
        var assignments: [MachineID: [UnitName: Assignment]] = [:]
        for (machine, unit, assignment) in plan.assign { assignments[machine, default: [:]][unit] = assignment }
        let lost = assignments.max { $0.value.count < $1.value.count }!.key
        let lostUnits = assignments[lost]!.count
        let survivors = cluster.machines.filter { $0.id != lost }
        var replan = SchedulingPlan()
        let replace = clock.measure {
            replan = Scheduler.plan(units: cluster.units, requirements: cluster.requirements,
                                    machines: survivors, assignments: assignments)
        }
        print("scheduler: re-place the \(lostUnits) units of one lost machine: \(replace) (\(replan.schedule.count) placed)")

        // The same first placement through the whole engine pass on an in-memory store.
        let store = InMemoryStore(historyLimit: 1000)
        let registry = Registry(store: store)
        for machine in cluster.machines { try await registry.publishMachine(machine, ttl: 3600) }
        for (index, unit) in cluster.units.enumerated() {
            try await registry.createUnit(unit.name, file: try unitFile(index), desiredState: .launched)
        }
        let engine = Engine(registry: registry, configuration: .init(machine: cluster.machines[0].id),
                            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pass = try await clock.measureAsync { try await engine.reconcile() }
        print("engine: full pass incl. store reads and writes, \(units) units on \(machines) machines: \(pass)")
        try await registry.removeMachine(lost)
        let repass = try await clock.measureAsync { try await engine.reconcile() }
        print("engine: pass after losing one machine, reading the registry: \(repass)")

        // As the running engine does it: the model is kept by the watch, the pass only plans and writes.
        let second = cluster.machines.first { $0.id != lost }!.id
        try await engine.loadModel()
        try await registry.removeMachine(second)
        let events = try await store.watch(registry.keys.prefix, recursive: true, fromIndex: await store.currentIndex())
        for try await event in events { engine.apply(event); break }  // the machine's removal
        let modelPass = try await clock.measureAsync { try await engine.reconcileFromModel() }
        print("engine: pass after losing another machine, from the watch-fed model: \(modelPass)")
    }
}

extension ContinuousClock {
    func measureAsync(_ work: () async throws -> Void) async rethrows -> Duration {
        let start = now
        try await work()
        return now - start
    }
}
