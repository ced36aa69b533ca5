import FleetUnit
import Testing
@testable import fleetctl

/// Issue 12: `--replace` follows fleet's rule, by the unit's desired state and the command.
/// Before, every command replaced any unit and reset it to `inactive` (stopping it).
@Suite struct UnitCreatorReplaceTests {
    @Test(arguments: [
        (DesiredState.inactive, DesiredState.inactive, true), (.loaded, .inactive, false), (.launched, .inactive, false),
        (.inactive, .loaded, true), (.loaded, .loaded, true), (.launched, .loaded, false),
        (.inactive, .launched, true), (.loaded, .launched, true), (.launched, .launched, true),
    ])
    func aUnitIsReplacedOnlyUpToTheCommandsState(registered: DesiredState, target: DesiredState, replaced: Bool) {
        let decision = UnitCreator.replaceDecision("web.service", registered: registered, target: target)
        if replaced {
            // The command's own state, so a launched unit stays launched (restarted by its agent).
            #expect(decision == .replace(desiredState: target))
        } else {
            #expect(decision == .refuse(message: "Warning: can not replace Unit(web.service) in state '\(registered.rawValue)', use the appropriate command"))
        }
    }

    @Test func refusedUnitsAreLeftAlone() {
        let outcome = UnitCreator.Outcome(names: ["a.service", "b.service"], createdInState: [], refused: ["a.service"])
        #expect(outcome.toSet == ["b.service"])
    }
}
