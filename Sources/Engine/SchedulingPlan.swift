import FleetRegistry
import FleetUnit

/// What one engine pass decided: placements to remove and make, and the per-machine
/// assignments that have to change so agents act on them.
public struct SchedulingPlan: Sendable, Hashable {
    public var unschedule: [(unit: UnitName, machine: MachineID)] = []
    public var schedule: [(unit: UnitName, machine: MachineID)] = []
    public var assign: [(machine: MachineID, unit: UnitName, assignment: Assignment)] = []
    public var unassign: [(machine: MachineID, unit: UnitName)] = []
    /// Units that want to run but fit nowhere, with the reason.
    public var unplaceable: [UnitName: String] = [:]

    public init() {}

    public var isEmpty: Bool { unschedule.isEmpty && schedule.isEmpty && assign.isEmpty && unassign.isEmpty }

    public static func == (a: SchedulingPlan, b: SchedulingPlan) -> Bool {
        a.unschedule.map { "\($0.unit)@\($0.machine)" } == b.unschedule.map { "\($0.unit)@\($0.machine)" }
            && a.schedule.map { "\($0.unit)@\($0.machine)" } == b.schedule.map { "\($0.unit)@\($0.machine)" }
            && a.assign.map { "\($0.unit)@\($0.machine)=\($0.assignment.desiredState)" }
            == b.assign.map { "\($0.unit)@\($0.machine)=\($0.assignment.desiredState)" }
            && a.unassign.map { "\($0.unit)@\($0.machine)" } == b.unassign.map { "\($0.unit)@\($0.machine)" }
            && a.unplaceable == b.unplaceable
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(schedule.count)
        hasher.combine(unschedule.count)
    }
}
