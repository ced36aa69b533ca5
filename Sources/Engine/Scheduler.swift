import FleetRegistry
import FleetUnit

/// The placement decision, as a pure function of the cluster snapshot, so it can be tested and
/// benchmarked without a store.
///
/// Least-loaded placement: a machine's load is the number of units placed on it whose desired
/// state is not `inactive`; ties go to the lower machine ID (fleet's documented tie-break).
public enum Scheduler {
    public static func plan(units: [UnitRecord], machines: [MachineRecord],
                            assignments: [MachineID: [UnitName: Assignment]]) -> SchedulingPlan {
        var plan = SchedulingPlan()
        let alive = Set(machines.map(\.id))
        var load: [MachineID: Int] = Dictionary(uniqueKeysWithValues: machines.map { ($0.id, 0) })
        var placement: [UnitName: MachineID] = [:]

        // Phase A: keep what is validly placed, take off what is not.
        for unit in units {
            guard let target = unit.target else { continue }
            if unit.desiredState == .inactive || !alive.contains(target) {
                plan.unschedule.append((unit.name, target))
            } else {
                placement[unit.name] = target
                load[target, default: 0] += 1
            }
        }

        // Phase B: place what wants to run, in name order so passes are reproducible.
        for unit in units where unit.desiredState != .inactive && placement[unit.name] == nil {
            guard let machine = load.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key else {
                plan.unplaceable[unit.name] = "no machines are available"
                continue
            }
            plan.schedule.append((unit.name, machine))
            placement[unit.name] = machine
            load[machine, default: 0] += 1
        }

        // Assignments: exactly the placed units, with their contents and desired state.
        var wanted: [MachineID: [UnitName: Assignment]] = [:]
        for unit in units {
            guard let machine = placement[unit.name] else { continue }
            wanted[machine, default: [:]][unit.name] = Assignment(hash: unit.hash, desiredState: unit.desiredState)
        }
        for (machine, units) in wanted.sorted(by: { $0.key < $1.key }) {
            for (unit, assignment) in units.sorted(by: { $0.key < $1.key })
            where assignments[machine]?[unit] != assignment {
                plan.assign.append((machine, unit, assignment))
            }
        }
        for (machine, units) in assignments.sorted(by: { $0.key < $1.key }) {
            for unit in units.keys.sorted() where wanted[machine]?[unit] == nil {
                plan.unassign.append((machine, unit))
            }
        }
        return plan
    }
}
