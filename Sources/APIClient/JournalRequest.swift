/// `GET /fleet/v1/units/<name>/journal` parameters, journalctl's `-n`, `-f` and `--output`.
public struct JournalRequest: Sendable, Equatable {
    public var unit: String
    public var lines: Int
    public var follow: Bool
    public var output: String
    /// With `follow`: seconds between heartbeat lines (a lone NUL), so a server notices within
    /// that time that its client went away; 0 for none. Clients drop heartbeat lines.
    public var heartbeat: Int

    public init(unit: String, lines: Int = 10, follow: Bool = false, output: String = "short", heartbeat: Int = 0) {
        self.unit = unit
        self.lines = lines
        self.follow = follow
        self.output = output
        self.heartbeat = heartbeat
    }

    /// The heartbeat line's content (without its newline).
    public static let heartbeatLine = "\u{0}"

    /// The output modes every fleetd understands (journalctl's names).
    public static let outputs = ["short", "short-iso", "short-precise", "short-unix", "cat", "json"]
}
