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

    /// Drops entries of units that are gone or changed, so the cache stays the registry's size.
    func retain(only units: [(UnitName, UnitHash)]) {
        let live = Set(units.map { $0.0.rawValue + " " + $0.1.hex })
        entries = entries.filter { live.contains($0.key) }
    }
}
