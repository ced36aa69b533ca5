import FleetAPIClient
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
