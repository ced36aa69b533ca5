import FleetUnit

/// Parsed `[X-Fleet]` requirements by unit name and contents hash. Specifiers (`%i`) make the
/// result depend on the name as well as the contents, so both form the key.
actor RequirementsCache {
    private var entries: [String: XFleetRequirements] = [:]

    func requirements(_ unit: UnitName, _ hash: UnitHash) -> XFleetRequirements? {
        entries[unit.rawValue + " " + hash.hex]
    }

    func store(_ unit: UnitName, _ hash: UnitHash, _ requirements: XFleetRequirements) {
        entries[unit.rawValue + " " + hash.hex] = requirements
    }
}
