import FleetRegistry
import FleetUnit

/// The placement decision, as a pure function of a cluster snapshot, so it can be tested and
/// benchmarked without a store.
///
/// Least-loaded placement under `[X-Fleet]` constraints. A machine's load is the number of units
/// assigned to it (placed units whose desired state is not `inactive`, and global units); ties go
/// to the lower machine ID. One pass:
/// 1. keeps placed units that may still run where they are, unschedules the rest;
/// 2. assigns global units to every machine whose metadata they match, skipping machines where
///    they would conflict (between two conflicting global units, the first by name wins);
/// 3. places unplaced units that want to run, followers (`MachineOf`) after their peers, and
///    moves units that a newly placed unit `Replaces`;
/// 4. diffs the resulting per-machine assignments against the current ones.
///
/// Machines that are `away` (their presence vanished a short while ago, see `AwayMachines`)
/// keep what moving would not help: their global units, and units no live machine can take.
/// Those stay placed and assigned there, so a machine that comes back after an outage longer
/// than the TTL finds its assignments as it left them and restarts nothing (fleet's
/// connectivity-loss promise). Units another machine can run move at once, as before.
public enum Scheduler {
    public static func plan(units: [UnitRecord], requirements: [UnitName: XFleetRequirements] = [:],
                            machines: [MachineRecord],
                            assignments: [MachineID: [UnitName: Assignment]],
                            away: Set<MachineID> = []) -> SchedulingPlan {
        var state = ClusterState(units: units, requirements: requirements, machines: machines)
        var plan = SchedulingPlan()
        let away = away.subtracting(state.machines.keys)
        /// Units placed on an away machine: moved in step 3 if a live machine takes them.
        var stranded: [UnitName: MachineID] = [:]

        // 1. Keep what is validly placed.
        for unit in state.nonGlobal {
            guard let target = unit.target else { continue }
            if unit.desiredState != .inactive, away.contains(target) {
                stranded[unit.name] = target
            } else if unit.desiredState == .inactive || state.machines[target] == nil {
                plan.unschedule.append((unit.name, target))
            } else if case .no = state.ableToRun(unit.name, on: target, ignoringReplaces: true) {
                plan.unschedule.append((unit.name, target))
            } else {
                state.assign(unit.name, to: target)
            }
        }

        // 2. Global units, on every machine that matches and has no conflict.
        for unit in state.global where unit.desiredState != .inactive {
            for machine in state.machineOrder where state.ableToRun(unit.name, on: machine.id, ignoringReplaces: true) == .yes {
                state.assign(unit.name, to: machine.id)
            }
        }

        // 3. Place what wants to run. Followers go after their peers; a second round catches
        //    followers whose peer was itself placed in this pass.
        for _ in 0..<2 {
            for unit in state.nonGlobal.sorted(by: state.followersLast)
            where unit.desiredState != .inactive && state.placement[unit.name] == nil {
                place(unit.name, &state, &plan)
            }
        }
        // A stranded unit that found a live machine moves; one that found none stays put.
        var held: [MachineID: Set<UnitName>] = [:]
        for (name, target) in stranded.sorted(by: { $0.key < $1.key }) {
            if state.placement[name] != nil {
                plan.unschedule.append((name, target))
            } else {
                held[target, default: []].insert(name)
            }
        }
        for unit in state.nonGlobal where unit.desiredState != .inactive && state.placement[unit.name] == nil
            && stranded[unit.name] == nil
        {
            plan.unplaceable[unit.name] = state.reasons[unit.name] ?? "no machines are available"
        }
        // Global units stay on an away machine that had them (its metadata is unknown until it
        // is back; its agent learns of any change of contents or state when it returns).
        for unit in state.global where unit.desiredState != .inactive {
            for machine in away where assignments[machine]?[unit.name] != nil {
                held[machine, default: []].insert(unit.name)
            }
        }

        // 4. Assignments: exactly the assigned units, with their contents and desired state.
        var wanted: [MachineID: [UnitName: Assignment]] = [:]
        for (machine, names) in state.assigned.merging(held, uniquingKeysWith: { $0.union($1) }) {
            for name in names {
                guard let unit = state.units[name] else { continue }
                wanted[machine, default: [:]][name] = Assignment(hash: unit.hash, desiredState: unit.desiredState)
            }
        }
        for (machine, units) in wanted.sorted(by: { $0.key < $1.key }) {
            for (unit, assignment) in units.sorted(by: { $0.key < $1.key }) where assignments[machine]?[unit] != assignment {
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

    /// Puts `name` on the least-loaded machine that can run it, moving a unit it replaces.
    static func place(_ name: UnitName, _ state: inout ClusterState, _ plan: inout SchedulingPlan) {
        var refusals: [String] = []
        for (_, id) in state.loadOrder.order {
            guard let machine = state.machines[id] else { continue }
            switch state.ableToRun(name, on: machine.id, ignoringReplaces: false) {
            case .no(let why):
                refusals.append("\(machine.id.short): \(why)")
            case .yes:
                commit(name, on: machine.id, &state, &plan)
                return
            case .replacing(let replaced):
                commit(name, on: machine.id, &state, &plan)
                for other in replaced {
                    state.unassign(other, from: machine.id)
                    plan.unschedule.append((other, machine.id))
                    plan.schedule.removeAll { $0.unit == other }
                    place(other, &state, &plan)
                }
                return
            }
        }
        state.reasons[name] = refusals.isEmpty ? "no machines are available" : refusals.joined(separator: "; ")
    }

    static func commit(_ name: UnitName, on machine: MachineID, _ state: inout ClusterState, _ plan: inout SchedulingPlan) {
        plan.schedule.append((name, machine))
        state.assign(name, to: machine)
        state.reasons[name] = nil
    }
}
