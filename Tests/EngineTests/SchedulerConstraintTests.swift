import FleetEngine
import FleetRegistry
import FleetUnit
import Testing

/// A unit whose file carries `xfleet` lines, with its parsed requirements.
func constrained(_ name: String, _ xfleet: [String], on target: String? = nil,
                 state: DesiredState = .launched) throws -> (UnitRecord, XFleetRequirements) {
    let text = "[Service]\nExecStart=/bin/sleep 1000\n" + (xfleet.isEmpty ? "" : "[X-Fleet]\n" + xfleet.joined(separator: "\n") + "\n")
    let file = try UnitFile(parsing: text)
    let unitName = try UnitName(name)
    return (UnitRecord(name: unitName, hash: file.hash, desiredState: state, target: target.map(MachineID.init)),
            XFleetRequirements(unit: unitName, file: file))
}

/// `[X-Fleet]` constraints through the scheduler, one option at a time.
@Suite struct SchedulerConstraintTests {

    func plan(_ units: [(UnitRecord, XFleetRequirements)], machines: [MachineRecord]) -> SchedulingPlan {
        Scheduler.plan(units: units.map(\.0), requirements: Dictionary(uniqueKeysWithValues: units.map { ($0.0.name, $0.1) }),
                       machines: machines, assignments: [:])
    }

    let machines = [
        MachineRecord(id: MachineID("aaaaaaaa1111"), publicIP: "10.0.0.1", metadata: ["region": "a"]),
        MachineRecord(id: MachineID("bbbbbbbb2222"), publicIP: "10.0.0.2", metadata: ["region": "b", "disk": "ssd"]),
        MachineRecord(id: MachineID("cccccccc3333"), publicIP: "10.0.0.3", metadata: ["region": "b", "slot": "7"]),
    ]

    func placed(_ plan: SchedulingPlan, _ unit: String) -> String? {
        plan.schedule.last { $0.unit.rawValue == unit }?.machine.rawValue
    }

    @Test func metadataIsAndAcrossKeysOrWithinAKey() throws {
        let p = plan([try constrained("ssd.service", ["MachineMetadata=region=b", "MachineMetadata=disk=ssd"]),
                      try constrained("ab.service", ["MachineMetadata=region=a", "MachineMetadata=region=c"])],
                     machines: machines)
        #expect(placed(p, "ssd.service") == "bbbbbbbb2222")
        #expect(placed(p, "ab.service") == "aaaaaaaa1111")
    }

    @Test func machineIDMatchesTheShortID() throws {
        let p = plan([try constrained("pin.service", ["MachineID=cccccccc"])], machines: machines)
        #expect(placed(p, "pin.service") == "cccccccc3333")
    }

    @Test func conflictsWorkInBothDirections() throws {
        let p = plan([try constrained("a.service", ["Conflicts=b.service"]), try constrained("b.service", []),
                      try constrained("c.service", ["MachineID=aaaaaaaa"]), try constrained("d.service", ["Conflicts=c.*", "MachineID=aaaaaaaa"])],
                     machines: machines)
        #expect(placed(p, "a.service") != placed(p, "b.service"))
        #expect(placed(p, "c.service") == "aaaaaaaa1111")
        #expect(placed(p, "d.service") == nil)
        #expect(p.unplaceable[try UnitName("d.service")]?.contains("conflicts with c.service") == true)
    }

    @Test func followersGoWhereTheirPeerIs() throws {
        let p = plan([try constrained("side.service", ["MachineOf=main.service"]),
                      try constrained("main.service", ["MachineMetadata=slot=7"])], machines: machines)
        #expect(placed(p, "main.service") == "cccccccc3333")
        #expect(placed(p, "side.service") == "cccccccc3333")
    }

    @Test func specifiersResolvePerInstance() throws {
        let p = plan([try constrained("slot@7.service", ["MachineMetadata=slot=%i"])], machines: machines)
        #expect(placed(p, "slot@7.service") == "cccccccc3333")
    }

    @Test func globalUnitsGoEverywhereTheyMatchAndTheFirstOfAConflictWins() throws {
        let p = plan([try constrained("g-b.service", ["Global=true", "MachineMetadata=region=b"]),
                      try constrained("x.service", ["Global=true", "Conflicts=y.service"]),
                      try constrained("y.service", ["Global=true"])], machines: machines)
        let gb = p.assign.filter { $0.unit.rawValue == "g-b.service" }.map(\.machine.rawValue).sorted()
        #expect(gb == ["bbbbbbbb2222", "cccccccc3333"])
        #expect(p.assign.filter { $0.unit.rawValue == "x.service" }.count == 3)
        #expect(p.assign.allSatisfy { $0.unit.rawValue != "y.service" })
        #expect(p.schedule.isEmpty, "global units are never given a single target")
    }

    @Test func replacesMovesTheReplacedUnitAway() throws {
        let p = plan([try constrained("old.service", [], on: "aaaaaaaa1111"),
                      try constrained("new.service", ["MachineID=aaaaaaaa", "Replaces=old.service"])], machines: machines)
        #expect(placed(p, "new.service") == "aaaaaaaa1111")
        #expect(p.unschedule.contains { $0.unit.rawValue == "old.service" && $0.machine.rawValue == "aaaaaaaa1111" })
        #expect(placed(p, "old.service") != nil && placed(p, "old.service") != "aaaaaaaa1111")
    }

    @Test func anUnplaceableUnitSaysWhyOnEachMachine() throws {
        let p = plan([try constrained("mars.service", ["MachineMetadata=region=mars"])], machines: machines)
        let reason = try #require(p.unplaceable[try UnitName("mars.service")])
        #expect(reason.contains("aaaaaaaa: metadata region=mars not satisfied"))
        #expect(reason.contains("cccccccc"))
    }

    @Test func aPlacedUnitThatNoLongerFitsIsMoved() throws {
        let p = plan([try constrained("b.service", ["MachineMetadata=region=b"], on: "aaaaaaaa1111")], machines: machines)
        #expect(p.unschedule.map(\.machine.rawValue) == ["aaaaaaaa1111"])
        #expect(placed(p, "b.service") == "bbbbbbbb2222")
    }
}

extension SchedulerConstraintTests {
    @Test func aReplacedUnitIsNotPlacedBackNextToItsReplacer() throws {
        // bbbb is busier, so only the Replaces rule keeps old.service off aaaa.
        let p = plan([try constrained("old.service", []),
                      try constrained("new.service", ["MachineID=aaaaaaaa", "Replaces=old.service"], on: "aaaaaaaa1111"),
                      try constrained("busy-1.service", [], on: "bbbbbbbb2222"),
                      try constrained("busy-2.service", [], on: "bbbbbbbb2222")],
                     machines: [machines[0], machines[1]])
        #expect(placed(p, "old.service") == "bbbbbbbb2222")
    }
}
