@testable import FleetUnit

/// Parses `text`, returning the error instead of throwing it, so table tests can compare errors directly.
func parseError(_ text: String) -> UnitFileError? {
    do throws(UnitFileError) {
        _ = try UnitFile(parsing: text)
        return nil
    } catch {
        return error
    }
}

/// The `[X-Fleet]` requirements of `text` for the unit `name`; both must be valid.
func requirements(_ name: String, _ text: String) throws -> XFleetRequirements {
    XFleetRequirements(unit: try UnitName(name), file: try UnitFile(parsing: text))
}

/// A unit file with only an `[X-Fleet]` section holding `lines`.
func xFleet(_ lines: String...) -> String {
    "[X-Fleet]\n" + lines.joined(separator: "\n") + "\n"
}
