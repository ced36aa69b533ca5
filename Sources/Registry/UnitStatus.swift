import FleetUnit

/// fleet's derived "current state" of a unit (`STATE` in `list-unit-files`): never stored,
/// computed from where the unit is placed and what that machine's agent published.
public enum CurrentState {
    /// `inactive` when unplaced or nothing is published for its machine; otherwise the job state
    /// the agent on the target machine reports (`loaded` or `launched`).
    public static func of(_ unit: UnitRecord, states: [UnitStateRecord]) -> DesiredState {
        guard let target = unit.target,
              let state = states.first(where: { $0.name == unit.name && $0.machineID == target && $0.hash == unit.hash })
        else { return .inactive }
        return state.jobState
    }
}
