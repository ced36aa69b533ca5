import FleetAPI
import FleetAPIClient
import FleetJournal
import FleetSystemd
import Foundation

/// This machine's answers to `fleetctl status` and `fleetctl journal`: systemd's view of the
/// unit over sd-bus, and the machine's journal through sd-journal.
struct LocalUnitInspector: UnitInspector {
    let units: SystemdUnitManager

    func isHostUnit(_ unit: String) async throws -> Bool {
        try await units.hostUnits([unit]).contains(unit)
    }

    /// `systemctl status -l` as text: the unit, its processes, then its last 10 journal lines.
    func status(of unit: String) async throws -> (exitStatus: Int32, text: String) {
        let details = try await units.details(of: unit)
        let now = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        var text = details.statusText(now: now, processes: ControlGroupProcesses.list(details.controlGroup))
        var journal: [String] = []
        for try await line in JournalReader.lines(JournalQuery(unit: unit, lines: 10)) { journal.append(line) }
        if !journal.isEmpty { text += "\n\n" + journal.joined(separator: "\n") }
        return (details.statusExitCode, text)
    }

    func checkJournal() throws { try JournalReader.check() }

    func journal(_ request: JournalRequest) -> AsyncThrowingStream<String, any Error> {
        let format = JournalFormat(rawValue: request.output) ?? .short
        return JournalReader.lines(JournalQuery(unit: request.unit, lines: request.lines, follow: request.follow,
                                                format: format))
    }
}
