import FleetEngine
import FleetRegistry
import FleetUnit
import Testing

func unit(_ name: String, _ state: DesiredState = .launched, on target: String? = nil) throws -> UnitRecord {
    let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    return UnitRecord(name: try UnitName(name), hash: file.hash, desiredState: state, target: target.map(MachineID.init))
}

func machine(_ id: String) -> MachineRecord {
    MachineRecord(id: MachineID(id), publicIP: "10.0.0.\(id.count)")
}

@Suite struct SchedulerTests {
    @Test func spreadsUnitsOverTheLeastLoadedMachines() throws {
        let units = try (1...6).map { try unit("web@\($0).service") }
        let plan = Scheduler.plan(units: units, machines: ["a", "b", "c"].map(machine), assignments: [:])
        let counts = Dictionary(grouping: plan.schedule, by: \.machine).mapValues(\.count)
        #expect(counts == [MachineID("a"): 2, MachineID("b"): 2, MachineID("c"): 2])
        #expect(plan.assign.count == 6)
    }

    @Test func tiesGoToTheLowerMachineID() throws {
        let plan = Scheduler.plan(units: [try unit("x.service")], machines: ["m2", "m1", "m3"].map(machine),
                                  assignments: [:])
        #expect(plan.schedule.map(\.machine) == [MachineID("m1")])
    }

    @Test func countsExistingPlacementsAsLoad() throws {
        let units = [try unit("a.service", on: "m1"), try unit("b.service", on: "m1"), try unit("c.service")]
        let plan = Scheduler.plan(units: units, machines: ["m1", "m2"].map(machine), assignments: [:])
        #expect(plan.schedule.map(\.machine) == [MachineID("m2")])
        #expect(plan.unschedule.isEmpty)
    }

    @Test func inactiveUnitsAreNeitherPlacedNorKept() throws {
        let units = [try unit("a.service", .inactive, on: "m1"), try unit("b.service", .inactive)]
        let plan = Scheduler.plan(units: units, machines: [machine("m1")], assignments: [:])
        #expect(plan.unschedule.map(\.unit.rawValue) == ["a.service"])
        #expect(plan.schedule.isEmpty)
    }

    @Test func unitsOfADeadMachineMoveInTheSamePass() throws {
        let units = [try unit("a.service", on: "gone")]
        let stale = [MachineID("gone"): [try UnitName("a.service"): Assignment(hash: units[0].hash, desiredState: .launched)]]
        let plan = Scheduler.plan(units: units, machines: [machine("m1")], assignments: stale)
        #expect(plan.unschedule.map(\.machine) == [MachineID("gone")])
        #expect(plan.schedule.map(\.machine) == [MachineID("m1")])
        #expect(plan.unassign.map(\.machine) == [MachineID("gone")])
        #expect(plan.assign.map(\.machine) == [MachineID("m1")])
    }

    @Test func withNoMachinesAUnitIsUnplaceableWithAReason() throws {
        let plan = Scheduler.plan(units: [try unit("a.service")], machines: [], assignments: [:])
        #expect(plan.schedule.isEmpty)
        #expect(plan.unplaceable[try UnitName("a.service")] == "no machines are available")
    }

    @Test func aSettledClusterNeedsNoChanges() throws {
        let a = try unit("a.service", .loaded, on: "m1")
        let plan = Scheduler.plan(units: [a], machines: [machine("m1")],
                                  assignments: [MachineID("m1"): [a.name: Assignment(hash: a.hash, desiredState: .loaded)]])
        #expect(plan.isEmpty)
    }

    @Test func aDesiredStateChangeUpdatesTheAssignment() throws {
        let a = try unit("a.service", .loaded, on: "m1")
        let plan = Scheduler.plan(units: [a], machines: [machine("m1")],
                                  assignments: [MachineID("m1"): [a.name: Assignment(hash: a.hash, desiredState: .launched)]])
        #expect(plan.assign.map(\.assignment.desiredState) == [.loaded])
        #expect(plan.schedule.isEmpty && plan.unschedule.isEmpty)
    }
}
