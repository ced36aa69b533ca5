extension XFleetRequirements {
    /// Whether a machine with this metadata satisfies ``machineMetadata``.
    ///
    /// Every required key must be present with one of its listed values (exact, case-sensitive); a machine
    /// lacking a key fails. No requirements match every machine.
    public func metadataMatches(_ machineMetadata: [String: String]) -> Bool {
        self.machineMetadata.allSatisfy { key, accepted in
            machineMetadata[key].map { accepted.contains($0) } ?? false
        }
    }

    /// Whether a machine with this ID satisfies ``machineID``: its full ID or its 8-character short ID
    /// equals the requirement (fleet accepts the short form too). True when there is no requirement.
    public func machineIDMatches(_ id: String) -> Bool {
        guard let machineID else { return true }
        return id == machineID || String(id.prefix(8)) == machineID
    }

    /// Whether one of this unit's ``conflicts`` globs matches `other`; never true for the unit itself.
    ///
    /// Conflicts are symmetric in fleet: callers check `a.conflicts(with: b) || b.conflicts(with: a)`.
    public func conflicts(with other: UnitName) -> Bool {
        other != unit && conflicts.contains { Self.globMatches($0, other.rawValue) }
    }

    /// Whether one of this unit's ``replaces`` globs matches `other`; never true for the unit itself.
    public func replaces(_ other: UnitName) -> Bool {
        other != unit && replaces.contains { Self.globMatches($0, other.rawValue) }
    }

    /// Go's `path.Match`: `*` (not crossing `/`), `?`, `[a-z]`, `[^...]`, `\` escapes; a malformed
    /// pattern matches nothing.
    public static func globMatches(_ pattern: String, _ name: String) -> Bool {
        GoGlob.matches(pattern, name)
    }
}
