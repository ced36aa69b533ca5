import FleetUnit

/// The first line the agent writes into every unit file it puts in systemd's runtime directory.
///
/// It carries the contents' hash, so a fleetd that starts after a crash (or `kill -9`, or an
/// upgrade) can tell which files in that shared directory are fleet's and what they hold: it
/// adopts those still assigned here without restarting them and removes the rest (orphans).
/// systemd reads the line as a comment.
enum UnitFileMark {
    /// What every marked file's first line starts with.
    static let prefix = "# fleetd unit "

    /// The first line for contents with `hash`.
    static func line(_ hash: UnitHash) -> String {
        "\(prefix)\(hash.hex); fleetd rewrites or removes this file, do not edit it"
    }

    /// The file as written: the mark, then the unit's normalised text, then for a fenced unit
    /// its conflict with the fence target (see ``FenceUnits``).
    static func contents(_ file: UnitFile, fenced: Bool) -> String {
        line(file.hash) + "\n" + file.normalizedText + (fenced ? FenceUnits.fencedSection : "")
    }

    /// The hash a marked first line names; nil for a line that is not one of ours.
    static func hash(inLine line: String) -> UnitHash? {
        guard line.hasPrefix(prefix) else { return nil }
        let rest = line.dropFirst(prefix.count)
        return UnitHash(hex: String(rest.prefix { $0 != ";" }))
    }
}
