/// What one machine's fleetd answers about a unit in its own systemd: `fleetctl status` and
/// `fleetctl journal`. fleetd implements it over sd-bus and sd-journal; the API routes a
/// request to the fleetd of the unit's machine, which calls this.
public protocol UnitInspector: Sendable {
    /// True when `unit` is the host's own on this machine (systemd has it from outside fleet's
    /// unit directory): its status and journal are not fleet's to show (`sshd.service`).
    func isHostUnit(_ unit: String) async throws -> Bool

    /// The unit's status on this machine.
    func status(of unit: String) async throws -> (exitStatus: Int32, text: String)

    /// Fails fast when this machine's journal cannot be read, before any line is promised.
    func checkJournal() throws

    /// The unit's journal lines on this machine; with `request.follow` the stream stays open.
    func journal(_ request: JournalRequest) -> AsyncThrowingStream<String, any Error>
}

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
