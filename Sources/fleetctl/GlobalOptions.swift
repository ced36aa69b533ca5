import ArgumentParser
import FleetAPI
import Foundation

/// Options every command takes. Each falls back to `FLEETCTL_<NAME>` in the environment, as in
/// fleet (`FLEETCTL_ENDPOINT`); the command line wins.
struct GlobalOptions: ParsableArguments {
    @Option(help: "fleetd API endpoint: unix:///path or http://host:port (default $FLEETCTL_ENDPOINT, then unix:///var/run/fleet.sock).")
    var endpoint: String?

    @Option(help: "Seconds to wait for an API request before giving up (default $FLEETCTL_REQUEST_TIMEOUT, then 10).")
    var requestTimeout: Double?

    func resolvedEndpoint(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        endpoint ?? env["FLEETCTL_ENDPOINT"] ?? "unix:///var/run/fleet.sock"
    }

    func resolvedTimeout(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Double {
        requestTimeout ?? env["FLEETCTL_REQUEST_TIMEOUT"].flatMap(Double.init) ?? 10
    }

    func client(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> FleetClient {
        let timeout = resolvedTimeout(env)
        do {
            return try FleetClient(endpoint: resolvedEndpoint(env), timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            Terminal.error("Unable to initialize client: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Options of the commands that wait for units to reach a state.
struct BlockOptions: ParsableArguments {
    @Flag(help: "Do not wait for the units to reach the requested state.")
    var noBlock = false

    @Option(help: "Give up waiting after N attempts of 2 s each (0: wait until done, showing progress).")
    var blockAttempts: Int = 0

    func validate() throws {
        guard blockAttempts >= 0 else { throw ValidationError("--block-attempts must be 0 or more, not \(blockAttempts).") }
    }
}

enum Terminal {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
