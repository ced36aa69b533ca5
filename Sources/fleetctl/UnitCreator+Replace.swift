import FleetUnit

/// fleet's rule for `--replace`: a command replaces a unit's contents only while the unit's
/// desired state is not beyond the state the command sets. `submit --replace` replaces only
/// inactive units, `load --replace` inactive and loaded ones, `start --replace` any. A
/// launched unit is never stopped as a side effect of a `submit` or `load` (the issue-12 bug:
/// its desired state was reset to `inactive`).
extension UnitCreator {
    enum ReplaceDecision: Equatable {
        /// Replace the contents and give the unit this desired state (the command's own, so
        /// one write does both; the machine's agent restarts a launched unit with them).
        case replace(desiredState: DesiredState)
        /// Leave the unit as it is, contents and state; the message is fleet's warning.
        case refuse(message: String)
    }

    /// What `--replace` does with registered unit `name`, in desired state `registered`, for a
    /// command that sets `target` (`inactive` for submit, `loaded` for load, `launched` for start).
    static func replaceDecision(_ name: String, registered: DesiredState, target: DesiredState) -> ReplaceDecision {
        // Desired states are ordered as fleet moves units through them.
        guard registered <= target else {
            return .refuse(message: "Warning: can not replace Unit(\(name)) in state '\(registered.rawValue)', use the appropriate command")
        }
        return .replace(desiredState: target)
    }
}

extension UnitCreator.Outcome {
    /// The units whose desired state the command goes on to set: all but the refused ones.
    var toSet: [String] { names.filter { !refused.contains($0) } }
}
