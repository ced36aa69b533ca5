extension XFleetRequirements {
    /// Rejects requirements that can never be met, with fleet's messages, before a unit is accepted.
    ///
    /// Checked in fleet's order: a `MachineOf` peer matched by one of the unit's own `Conflicts` globs,
    /// then by a `Replaces` glob; then the forbidden pairs `MachineID`+`MachineOf` ("Peers"),
    /// `MachineID`+`Conflicts`, `MachineID`+`Global`, `MachineID`+`Replaces`, `Global`+`MachineOf`,
    /// `Global`+`Replaces`, `Conflicts`+`Replaces`. Unknown keys are not an error (see ``warnings``).
    /// - Throws: ``XFleetError`` for the first problem found.
    public func validate() throws(XFleetError) {
        if let isolation, UnitIsolation(isolation) == nil {
            throw .invalidValue("Isolation", isolation, expected: UnitIsolation.spellings)
        }
        let peers = Self.unique(machineOf)
        for peer in peers {
            if let conflict = Self.unique(conflicts).first(where: { Self.globMatches($0, peer) }) {
                throw .peerMatchesConflict(peer: peer, conflict: conflict)
            }
        }
        for peer in peers {
            if let replace = Self.unique(replaces).first(where: { Self.globMatches($0, peer) }) {
                throw .peerMatchesReplace(peer: peer, replace: replace)
            }
        }
        let hasMachineID = machineID != nil
        let hasPeers = !machineOf.isEmpty
        let hasConflicts = !conflicts.isEmpty
        let hasReplaces = !replaces.isEmpty
        let forbidden: [(Bool, String, String)] = [
            (hasMachineID && hasPeers, "MachineID", "Peers"),
            (hasMachineID && hasConflicts, "MachineID", "Conflicts"),
            (hasMachineID && isGlobal, "MachineID", "Global"),
            (hasMachineID && hasReplaces, "MachineID", "Replaces"),
            (isGlobal && hasPeers, "Global", "Peers"),
            (isGlobal && hasReplaces, "Global", "Replaces"),
            (hasConflicts && hasReplaces, "Conflicts", "Replaces"),
        ]
        if let (_, first, second) = forbidden.first(where: { $0.0 }) {
            throw .incompatible(first, second)
        }
    }

    /// Values without repeats, first occurrence first (fleet used sets; this keeps the order stable).
    private static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
