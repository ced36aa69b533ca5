import Foundation

@testable import fleetd

extension FleetdSettings {
    /// The settings fleetd would resolve from `arguments` and `environment`, with a machine ID
    /// file of its own (so no test depends on the host's /etc/machine-id).
    static func parsed(_ arguments: [String], environment: [String: String] = [:]) throws -> FleetdSettings {
        let idFile = NSTemporaryDirectory() + "machine-id-\(UUID().uuidString)"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: idFile) }
        return try FleetdSettings(command: try FleetdCommand.parse(arguments + ["--machine-id-file", idFile]),
                                  environment: environment)
    }
}
