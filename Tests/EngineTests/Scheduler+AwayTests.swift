import FleetEngine
import FleetRegistry
import FleetStore
import FleetUnit
import Logging
import Synchronization
import Testing

/// A machine whose presence vanished a short while ago (away) keeps what moving would not help,
/// so that it restarts nothing when it comes back (issue 12, item 1).
@Suite struct SchedulerAwayTests {
    func assigned(_ units: [(UnitRecord, XFleetRequirements)], on machine: String) -> [MachineID: [UnitName: Assignment]] {
        [MachineID(machine): Dictionary(uniqueKeysWithValues: units.map {
            ($0.0.name, Assignment(hash: $0.0.hash, desiredState: $0.0.desiredState))
        })]
    }

    func plan(_ units: [(UnitRecord, XFleetRequirements)], machines: [String],
              assignments: [MachineID: [UnitName: Assignment]], away: Set<String>) -> SchedulingPlan {
        Scheduler.plan(units: units.map(\.0), requirements: Dictionary(uniqueKeysWithValues: units.map { ($0.0.name, $0.1) }),
                       machines: machines.map(machine), assignments: assignments, away: Set(away.map(MachineID.init)))
    }

    @Test func aUnitNoLiveMachineCanRunStaysOnItsAwayMachine() throws {
        let pinned = try constrained("pinned.service", ["MachineID=gone"], on: "gone")
        let p = plan([pinned], machines: ["m1", "m2"], assignments: assigned([pinned], on: "gone"), away: ["gone"])
        #expect(p.isEmpty, "nothing unscheduled, unassigned or placed: \(p)")
        #expect(p.unplaceable.isEmpty)
    }

    @Test func aGlobalUnitStaysAssignedToAnAwayMachine() throws {
        let global = try constrained("g.service", ["Global=true"])
        let p = plan([global], machines: ["m1"], assignments: assigned([global], on: "gone"), away: ["gone"])
        #expect(p.unassign.isEmpty)
        #expect(p.assign.map(\.machine) == [MachineID("m1")], "the live machine gets it as before")
    }

    @Test func aUnitAnotherMachineCanRunMovesAtOnce() throws {
        let free = try constrained("free.service", [], on: "gone")
        let p = plan([free], machines: ["m1"], assignments: assigned([free], on: "gone"), away: ["gone"])
        #expect(p.unschedule.map(\.machine) == [MachineID("gone")])
        #expect(p.schedule.map(\.machine) == [MachineID("m1")])
        #expect(p.unassign.map(\.machine) == [MachineID("gone")], "so the machine stops it when it is back")
    }

    @Test func withEveryMachineAwayNothingMoves() throws {
        // A store-wide outage: every presence ran out at once and none is back yet.
        let a = try constrained("a.service", [], on: "m1"), b = try constrained("b.service", [], on: "m2")
        let global = try constrained("g.service", ["Global=true"])
        var assignments = assigned([a, global], on: "m1")
        assignments.merge(assigned([b, global], on: "m2")) { $1 }
        let p = plan([a, b, global], machines: [], assignments: assignments, away: ["m1", "m2"])
        #expect(p.isEmpty, "\(p)")
        #expect(p.unplaceable.isEmpty)
    }

    @Test func stoppedOrChangedUnitsOfAnAwayMachineFollowTheirDesiredState() throws {
        let stopped = try constrained("stopped.service", ["MachineID=gone"], on: "gone", state: .inactive)
        let loaded = try constrained("loaded.service", ["MachineID=gone"], on: "gone", state: .loaded)
        var assignments = assigned([stopped, loaded], on: "gone")
        assignments[MachineID("gone")]?[loaded.0.name] = Assignment(hash: loaded.0.hash, desiredState: .launched)
        let p = plan([stopped, loaded], machines: ["m1"], assignments: assignments, away: ["gone"])
        #expect(p.unschedule.map(\.unit.rawValue) == ["stopped.service"])
        #expect(p.unassign.map(\.unit.rawValue) == ["stopped.service"])
        #expect(p.assign.map { "\($0.unit)=\($0.assignment.desiredState)" } == ["loaded.service=loaded"])
    }

    @Test func aMachineNoLongerAwayIsDeadAndLosesItsUnits() throws {
        let pinned = try constrained("pinned.service", ["MachineID=gone"], on: "gone")
        let global = try constrained("g.service", ["Global=true"])
        let p = plan([pinned, global], machines: ["m1"], assignments: assigned([pinned, global], on: "gone"), away: [])
        #expect(p.unschedule.map(\.unit.rawValue) == ["pinned.service"])
        #expect(Set(p.unassign.map(\.unit.rawValue)) == ["pinned.service", "g.service"])
        #expect(p.unplaceable[pinned.0.name] != nil)
    }
}

/// The engine holds a vanished machine's units for its grace, then lets them go.
@Suite struct EngineAwayTests {
    /// A monotonic clock moved by hand.
    final class ManualClock: Sendable {
        private let offset = Mutex(Duration.zero)
        let start = ContinuousClock.now
        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(by duration: Duration) { offset.withLock { $0 += duration } }
    }

    let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func aMachineWhosePresenceRanOutKeepsItsUnitsForTheGrace() async throws {
        let registry = Registry(store: InMemoryStore())
        let clock = ManualClock()
        for id in ["m1", "m2"] { try await registry.publishMachine(machine(id), ttl: 30) }
        let pinned = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1\n[X-Fleet]\nMachineID=m2\n")
        let global = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1\n[X-Fleet]\nGlobal=true\n")
        try await registry.createUnit(try UnitName("pinned.service"), file: pinned, desiredState: .launched)
        try await registry.createUnit(try UnitName("g.service"), file: global, desiredState: .launched)
        let engine = Engine(registry: registry, configuration: .init(machine: MachineID("m1"), now: { clock.now },
                                                                     awayGrace: .seconds(60)), logger: silent)
        try await engine.reconcile()
        let before = try await registry.assignments(MachineID("m2"))
        #expect(before.count == 2)

        try await registry.removeMachine(MachineID("m2"))  // its presence ran out
        try await engine.reconcile()
        clock.advance(by: .seconds(59))
        try await engine.reconcile()
        #expect(try await registry.assignments(MachineID("m2")) == before, "kept while away")
        #expect(try await registry.units().first { $0.name.rawValue == "pinned.service" }?.target == MachineID("m2"))

        clock.advance(by: .seconds(2))  // past the grace: dead
        try await engine.reconcile()
        #expect(try await registry.assignments(MachineID("m2")).isEmpty)
        #expect(try await registry.units().first { $0.name.rawValue == "pinned.service" }?.target == nil)
    }
}
