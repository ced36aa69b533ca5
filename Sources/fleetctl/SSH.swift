import Foundation

/// How fleetctl runs the OpenSSH client (`ssh`, `--tunnel`): fleet's SSH flags mapped onto
/// OpenSSH's options.
struct SSHSettings: Equatable {
    var username: String
    var timeout: Double
    var strictHostKeyChecking: Bool
    var knownHostsFile: String
    var port: Int = 22
    var forwardAgent = false

    /// `ssh` arguments up to and including the destination. fleet's strict checking asks about
    /// a new host and refuses a changed key, which is OpenSSH's `ask`; not strict accepts any.
    func arguments(host: String) -> [String] {
        var arguments = [
            "-l", username, "-p", String(port),
            "-o", "ConnectTimeout=\(max(1, Int(timeout.rounded(.up))))",
            "-o", "StrictHostKeyChecking=\(strictHostKeyChecking ? "ask" : "no")",
            "-o", "UserKnownHostsFile=\(knownHostsFile)",
        ]
        if forwardAgent { arguments.append("-A") }
        arguments.append(host)
        return arguments
    }

    /// `host`, `host:port` or `[v6]:port`, with fleet's default port 22.
    static func split(_ address: String) -> (host: String, port: Int?) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        let parts = address.split(separator: ":")
        if parts.count == 2, let port = Int(parts[1]) { return (String(parts[0]), port) }
        return (address, nil)
    }

    /// Makes sure the known hosts file's directory exists (`~/.fleetctl`), so OpenSSH can record hosts.
    func prepareKnownHosts() {
        let directory = (knownHostsFile as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
    }

    /// An OpenSSH program (`ssh` unless named) on PATH, or nil when it is not installed.
    static func executable(_ tool: String = "ssh", _ env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        for directory in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

struct SSHError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    static let notInstalled = SSHError("the OpenSSH client (ssh) is not installed; install it (apt install openssh-client)")
}

/// `--tunnel`: an `ssh -L` forward from a private local socket to the endpoint as the tunnel
/// host sees it (its unix socket, or host:port). Lives until fleetctl exits.
enum SSHTunnel {
    nonisolated(unsafe) private static var process: Process?
    nonisolated(unsafe) private static var directory: String?

    /// Starts the forward and returns the local endpoint (`unix:///tmp/.../api.sock`).
    static func open(to address: String, endpoint: String, ssh settings: SSHSettings) throws -> String {
        guard let ssh = SSHSettings.executable() else { throw SSHError.notInstalled }
        let remote: String
        if endpoint.hasPrefix("unix://") || endpoint.hasPrefix("file://") {
            remote = String(endpoint.drop { $0 != ":" }.dropFirst(3))
        } else if let scheme = endpoint.range(of: "://") {
            remote = String(endpoint[scheme.upperBound...].prefix { $0 != "/" })
        } else {
            throw FleetTunnelError("invalid endpoint \"\(endpoint)\": URL scheme undefined")
        }
        let (host, port) = SSHSettings.split(address)
        var settings = settings
        settings.port = port ?? 22
        settings.prepareKnownHosts()
        // ssh runs in batch mode here and cannot ask: a new host is asked about first, on stdin.
        try HostKeyCheck().ensureKnown(host: host, port: settings.port, settings: settings)
        let directory = NSTemporaryDirectory() + "fleetctl-tunnel-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let local = directory + "/api.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ssh)
        process.arguments = ["-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-L", "\(local):\(remote)"]
            + settings.arguments(host: host)
        let errors = Pipe()
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Self.process = process
        Self.directory = directory
        atexit { SSHTunnel.close() }
        // ssh creates the local socket once it is connected and the forward is set up.
        let deadline = Date().addingTimeInterval(settings.timeout + 1)
        while !FileManager.default.fileExists(atPath: local) {
            guard process.isRunning else {
                let text = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                throw FleetTunnelError("ssh tunnel to \(address) failed: "
                    + text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            guard Date() < deadline else { throw FleetTunnelError("ssh tunnel to \(address) timed out") }
            usleep(20_000)
        }
        return "unix://" + local
    }

    static func close() {
        if let process, process.isRunning { process.terminate() }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

struct FleetTunnelError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
