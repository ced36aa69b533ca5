import FleetUnit

/// fleet's derived "current state" of a unit (`STATE` in `list-unit-files`): never stored,
/// computed from where the unit is placed and what that machine's agent published.
public struct CurrentState: Sendable {
    /// The published states by unit: a listing of every unit looks each one up, and a scan of
    /// all states per unit made a listing of N units cost N² comparisons (`fleetctl start`
    /// lists the units every 50 ms while it waits).
    private let published: [UnitName: [UnitStateRecord]]

    public init(states: [UnitStateRecord]) {
        published = Dictionary(grouping: states, by: \.name)
    }

    /// `inactive` when unplaced or nothing is published for its machine; otherwise the job state
    /// the agent on the target machine reports (`loaded` or `launched`).
    public func of(_ unit: UnitRecord) -> DesiredState {
        guard let target = unit.target,
              let state = published[unit.name]?.first(where: { $0.machineID == target && $0.hash == unit.hash })
        else { return .inactive }
        return state.jobState
    }
}
