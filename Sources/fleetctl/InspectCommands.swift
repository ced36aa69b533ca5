import ArgumentParser
import FleetAPIClient
import FleetUnit
import Foundation
import NIOCore

/// `status` and `journal`: answered by the fleetd of the unit's machine (its systemd over D-Bus,
/// its journal through sd-journal), reached through any fleetd. No SSH needed.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show units' systemd status (as systemctl status -l) from the machines running them.",
        discussion: """
        Examples:
          fleetctl status web@1.service
          fleetctl status web@1 web@2            # a blank line between units
        Exit status: 0 if every unit is active, else systemctl's (3 not active, 4 unknown), 1 on errors.
        A global unit shows its status on every machine running it.
        --no-block and --block-attempts are accepted and ignored (status never waits).
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Accepted for fleet compatibility; status goes through fleetd, not SSH.") var sshPort = 22
    @Flag(help: "Accepted for fleet compatibility and ignored: status never waits.") var noBlock = false
    @Option(help: "Accepted for fleet compatibility and ignored: status never waits.") var blockAttempts = 0
    @Argument(help: "Unit names.") var units: [String] = []

    func run() async throws {
        guard !units.isEmpty else { Terminal.error("One unit file must be provided."); throw ExitCode.failure }
        let client = try global.client()
        var exitStatus: Int32 = 0
        for (index, argument) in units.enumerated() {
            let name = UnitName.mangled(argument)
            guard let unit = try await client.unit(name) else {
                Terminal.error("Unit \(name) does not exist.")
                throw ExitCode.failure
            }
            if index > 0 { print() }
            var machines: [String?] = [nil]
            if unit.machineID == nil, UnitEntity.isGlobal(unit) {
                machines = try await client.states().filter { $0.name == name }.compactMap(\.machineID)
                if machines.isEmpty { Terminal.error("Unit \(name) does not appear to be loaded."); throw ExitCode.failure }
            }
            for (position, machine) in machines.enumerated() {
                if position > 0 { print() }
                do {
                    let status = try await client.unitStatus(name, machineID: machine)
                    print(status.text)
                    if exitStatus == 0 { exitStatus = status.exitStatus }
                } catch let error as FleetClientError {
                    Terminal.error(error.status == nil ? "\(error)" : error.apiMessage)
                    throw ExitCode.failure
                }
            }
        }
        if exitStatus != 0 { throw ExitCode(exitStatus) }
    }
}

struct Journal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Print a unit's journal from the machine running it; -f follows it.",
        discussion: """
        Examples:
          fleetctl journal web@1.service              # the last 10 lines
          fleetctl journal --lines 50 -f web@1         # the last 50, then new lines until Ctrl-C
          fleetctl journal --output cat web@1          # messages only
        Output modes: \(JournalRequest.outputs.joined(separator: ", ")).
        """)
    @OptionGroup var global: GlobalOptions
    @Option(name: [.customLong("lines"), .customShort("n")], help: "How many of the newest lines to show.") var lines = 10
    @Flag(name: [.short, .long], help: "Keep printing new lines as they are written.") var follow = false
    @Option(help: "Output mode, as journalctl's --output.") var output = "short"
    @Flag(help: "Accepted for fleet compatibility; fleetd reads the journal with its own rights.") var sudo = false
    @Option(help: "Accepted for fleet compatibility; the journal goes through fleetd, not SSH.") var sshPort = 22
    @Argument(help: "One unit name.") var units: [String] = []

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("--lines must be 0 or more, not \(lines).") }
        guard JournalRequest.outputs.contains(output) else {
            throw ValidationError("unknown --output \"\(output)\"; use one of \(JournalRequest.outputs.joined(separator: ", ")).")
        }
    }

    func run() async throws {
        guard units.count == 1 else { Terminal.error("One unit file must be provided."); throw ExitCode.failure }
        let name = UnitName.mangled(units[0])
        let client = try global.client()
        let body: HTTPClientResponseBodyStream
        do {
            // Following: heartbeats every 2 s let every fleetd on the way notice when we stop.
            body = try await client.journal(JournalRequest(unit: name, lines: lines, follow: follow, output: output,
                                                           heartbeat: follow ? 2 : 0))
        } catch let error as FleetClientError {
            switch (error.status, error.apiMessage) {
            case (404?, "unit does not exist"): Terminal.error("Unit \(name) does not exist.")
            case (nil, _): Terminal.error("\(error)")
            default: Terminal.error(error.apiMessage)
            }
            throw ExitCode.failure
        }
        do {
            var lines = JournalLines()
            for try await chunk in body { FileHandle.standardOutput.write(lines.feed(Array(buffer: chunk))) }
            FileHandle.standardOutput.write(lines.flush())
        } catch {
            Terminal.error("The journal of \(name) was cut off: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Splits the journal response into lines and drops heartbeat lines (a lone NUL).
struct JournalLines {
    private var pending: [UInt8] = []

    /// The complete lines in `bytes` (with what came before), heartbeats removed.
    mutating func feed(_ bytes: [UInt8]) -> Data {
        pending += bytes
        guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { return Data() }
        let complete = pending[...last]
        pending = Array(pending[(last + 1)...])
        var out = Data()
        for line in complete.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        where Array(line) != Array(JournalRequest.heartbeatLine.utf8) {
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Whatever is left after the last newline.
    mutating func flush() -> Data {
        defer { pending = [] }
        return Data(pending)
    }
}
