/// What `fleetctl journal` asks of one machine's journal: a unit's last lines, and
/// optionally every line after them as they arrive.
public struct JournalQuery: Sendable, Equatable {
    /// The full systemd unit name, e.g. `web@1.service`.
    public var unit: String
    /// How many of the newest entries to show first (journalctl's `-n`); 0 shows none.
    public var lines: Int
    /// Keep the stream open and send new entries as the journal receives them (`-f`).
    public var follow: Bool
    public var format: JournalFormat

    public init(unit: String, lines: Int = 10, follow: Bool = false, format: JournalFormat = .short) {
        self.unit = unit
        self.lines = max(0, lines)
        self.follow = follow
        self.format = format
    }

    /// The journal fields that name the unit an entry belongs to. Lines a unit writes carry
    /// `_SYSTEMD_UNIT` (system manager) or `_SYSTEMD_USER_UNIT` (user manager); the manager's
    /// own messages about it ("Started ...") carry `UNIT` or `USER_UNIT`. Any one matches.
    public static let unitFields = ["_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT", "UNIT", "USER_UNIT"]
}

/// journalctl's `--output` modes that fleet supports.
public enum JournalFormat: String, Sendable, CaseIterable {
    /// `Nov 25 12:00:01 host ident[pid]: message` (the default).
    case short
    /// As `short`, with an ISO 8601 timestamp.
    case shortISO = "short-iso"
    /// As `short`, with microseconds.
    case shortPrecise = "short-precise"
    /// As `short`, with seconds since the epoch.
    case shortUnix = "short-unix"
    /// The message only.
    case cat
    /// One JSON object per entry with every field.
    case json

    /// The accepted names, for help and error text.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
