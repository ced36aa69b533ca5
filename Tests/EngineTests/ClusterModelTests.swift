import FleetTestSupport
import FleetRegistry
import FleetStore
import FleetUnit
import Testing

/// The engine's watch-fed model must always end up equal to what the registry reads say.
@Suite struct ClusterModelTests {

    /// A desired state is of an unknown unit until the unit's job object comes; other keys,
    /// and keys outside the registry, never are.
    @Test func aDesiredStateIsOfAnUnknownUnitUntilItsJobObjectComes() async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        let keys = registry.keys
        let web = try UnitName("web.service")
        var model = ClusterModel(keys: keys)
        try await model.load(from: registry)
        let desired = try await store.set(keys.targetState(web), "launched")
        model.apply(desired)
        #expect(model.isDesiredStateOfUnknownUnit(keys.targetState(web)))
        try await registry.createUnit(web, file: try UnitFile(parsing: "[Service]\nExecStart=/bin/a\n"), desiredState: .launched)
        model = ClusterModel(keys: keys)
        try await model.load(from: registry)
        #expect(!model.isDesiredStateOfUnknownUnit(keys.targetState(web)))
        #expect(!model.isDesiredStateOfUnknownUnit(keys.jobObject(web)))
        #expect(!model.isDesiredStateOfUnknownUnit(keys.targetState(try UnitName("other.service")).replacingOccurrences(of: "target-state", with: "target")))
        #expect(!model.isDesiredStateOfUnknownUnit("/elsewhere/job/web.service/target-state"))
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func aModelFedByTheWatchMatchesTheRegistry(seed: UInt64) async throws {
        let store = InMemoryStore()
        let registry = Registry(store: store)
        var random = SeededGenerator(seed: seed)
        let files = [try UnitFile(parsing: "[Service]\nExecStart=/bin/a\n"), try UnitFile(parsing: "[Service]\nExecStart=/bin/b\n")]
        let names = try (0..<6).map { try UnitName("u\($0).service") }
        let machines = (0..<3).map { MachineID("m\($0)") }

        // Some state before the model loads, the rest after: the watch carries it.
        func randomOperation() async throws {
            let unit = names.randomElement(using: &random)!, machine = machines.randomElement(using: &random)!
            switch Int.random(in: 0..<11, using: &random) {
            case 0: try? await registry.createUnit(unit, file: files.randomElement(using: &random)!, desiredState: .launched)
            case 1: try await registry.setDesiredState(unit, [.inactive, .loaded, .launched].randomElement(using: &random)!)
            case 2: _ = try? await registry.setTarget(unit, machine)
            case 3: try await registry.clearTarget(unit, from: machine)
            case 4: try await registry.setAssignment(machine, unit, Assignment(hash: files[0].hash, desiredState: .launched))
            case 5: try await registry.removeAssignment(machine, unit)
            case 6: try await registry.publishMachine(MachineRecord(id: machine, publicIP: "10.0.0.1", metadata: ["r": "a"]), ttl: 60)
            case 7: try await registry.removeMachine(machine)
            case 8: try await registry.setMachineMetadata(machine, key: "r", value: ["", "b"].randomElement(using: &random)!)
            case 9: try await registry.destroyUnit(unit)
            default: try await registry.setUnplaceable(unit, reason: Bool.random(using: &random) ? "no machine" : nil)
            }
        }
        for _ in 0..<30 { try await randomOperation() }
        let from = await store.currentIndex()
        var model = ClusterModel(keys: registry.keys)
        try await model.load(from: registry)
        let events = try await store.watch(registry.keys.prefix, recursive: true, fromIndex: from + 1)
        for _ in 0..<200 { try await randomOperation() }
        let last = await store.currentIndex()
        for try await event in events {
            model.apply(event)
            if event.index >= last { break }
        }
        #expect(model.units == (try await registry.units()))
        #expect(model.machines == (try await registry.machines()))
        #expect(model.assignments == (try await registry.allAssignments()))
    }
}
