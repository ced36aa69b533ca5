import ArgumentParser
import AsyncHTTPClient
import FleetAPIClient
import Foundation
import NIOSSL

/// Options every command takes, fleet's global flags. Each falls back to `FLEETCTL_<NAME>` in
/// the environment, as in fleet (`FLEETCTL_ENDPOINT`, `FLEETCTL_TUNNEL`); the command line wins.
struct GlobalOptions: ParsableArguments {
    @Option(help: "fleetd API endpoint: unix:///path or http(s)://host:port (default $FLEETCTL_ENDPOINT, then unix:///var/run/fleet.sock).")
    var endpoint: String?

    @Option(help: "Seconds to wait for an API request before giving up (default $FLEETCTL_REQUEST_TIMEOUT, then 10).")
    var requestTimeout: Double?

    @Option(help: "How to reach the cluster: API (the only one; fleet's legacy etcd driver is not needed, fleetd serves everything).")
    var driver: String?

    @Option(help: "Reach the endpoint through SSH to HOST[:PORT] (the endpoint as that host sees it).")
    var tunnel: String?

    @Option(help: "Seconds to wait for an SSH connection (default 10).")
    var sshTimeout: Double?

    @Option(help: "User name for SSH connections (default core).")
    var sshUsername: String?

    @Option(help: "Verify SSH host keys: true asks about new hosts and refuses changed ones; false accepts any (default true).")
    var strictHostKeyChecking: String?

    @Option(help: "Known hosts file for SSH (default ~/.fleetctl/known_hosts).")
    var knownHostsFile: String?

    @Option(name: [.customLong("ca-file"), .customLong("etcd-cafile")],
            help: "TLS: verify an https:// endpoint with this CA certificate (PEM).")
    var caFile: String?

    @Option(name: [.customLong("cert-file"), .customLong("etcd-certfile")], help: "TLS: client certificate (PEM).")
    var certFile: String?

    @Option(name: [.customLong("key-file"), .customLong("etcd-keyfile")], help: "TLS: client private key (PEM).")
    var keyFile: String?

    @Option(help: "Accepted for compatibility; only fleet's etcd driver used it.")
    var etcdKeyPrefix: String?

    @Option(help: "Deprecated and ignored; the API is the only driver.")
    var experimentalAPI: String?

    @Option(help: "true: log what fleetctl does and waits for to stderr, with timings.")
    var debug: String?

    /// Value options, in the order fleet documents them; used by ``CommandLineRewriter``.
    static let valueOptions = [
        "--endpoint", "--request-timeout", "--driver", "--tunnel", "--ssh-timeout", "--ssh-username",
        "--strict-host-key-checking", "--known-hosts-file", "--ca-file", "--etcd-cafile", "--cert-file",
        "--etcd-certfile", "--key-file", "--etcd-keyfile", "--etcd-key-prefix", "--experimental-api", "--debug",
    ]
    /// Go-style boolean flags: `--debug` alone means `--debug=true`.
    static let booleanOptions = ["--strict-host-key-checking", "--experimental-api", "--debug"]

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The option's value, else `FLEETCTL_<NAME>`.
    func value(_ given: String?, _ name: String, _ env: [String: String]) -> String? {
        given ?? env["FLEETCTL_" + name]
    }

    func resolvedEndpoint(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        value(endpoint, "ENDPOINT", env) ?? "unix:///var/run/fleet.sock"
    }

    func resolvedTimeout(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Double {
        requestTimeout ?? env["FLEETCTL_REQUEST_TIMEOUT"].flatMap(Double.init) ?? 10
    }

    var ssh: SSHSettings {
        let env = environment
        return SSHSettings(
            username: value(sshUsername, "SSH_USERNAME", env) ?? "core",
            timeout: (value(sshTimeout.map { String($0) }, "SSH_TIMEOUT", env)).flatMap(Double.init) ?? 10,
            strictHostKeyChecking: Self.bool(value(strictHostKeyChecking, "STRICT_HOST_KEY_CHECKING", env)) ?? true,
            knownHostsFile: value(knownHostsFile, "KNOWN_HOSTS_FILE", env)
                ?? (NSHomeDirectory() + "/.fleetctl/known_hosts"))
    }

    static func bool(_ text: String?) -> Bool? {
        guard let text else { return nil }
        switch text.lowercased() {
        case "1", "t", "true": return true
        case "0", "f", "false": return false
        default: return nil
        }
    }

    func validate() throws {
        let env = environment
        let driverName = value(driver, "DRIVER", env) ?? "API"
        switch driverName.lowercased() {
        case "api": break
        case "etcd":
            throw ValidationError("the etcd driver is not supported: fleetd serves the registry through its API; "
                + "point --endpoint at any fleetd instead")
        default: throw ValidationError("unrecognized driver \"\(driverName)\"")
        }
        for (name, text) in [("--strict-host-key-checking", strictHostKeyChecking), ("--experimental-api", experimentalAPI),
                             ("--debug", debug)] {
            if let text, Self.bool(text) == nil { throw ValidationError("\(name) takes true or false, not \"\(text)\"") }
        }
    }

    /// The API client this command line asks for: endpoint, timeout, TLS and tunnel applied.
    func client(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> FleetClient {
        if Self.bool(value(debug, "DEBUG", env)) == true { DebugLog.enabled = true }
        let timeout = resolvedTimeout(env)
        do {
            var endpoint = resolvedEndpoint(env)
            if let host = value(tunnel, "TUNNEL", env), !host.isEmpty {
                endpoint = try SSHTunnel.open(to: host, endpoint: endpoint, ssh: ssh)
            }
            return try FleetClient(endpoint: endpoint, client: try httpClient(env),
                                   timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            Terminal.error("Unable to initialize client: \(error)")
            throw ExitCode.failure
        }
    }

    /// fleetctl's HTTP client, with the TLS files given; made once per process.
    func httpClient(_ env: [String: String]) throws -> HTTPClient {
        let ca = value(caFile, "CA_FILE", env), cert = value(certFile, "CERT_FILE", env), key = value(keyFile, "KEY_FILE", env)
        guard ca != nil || cert != nil || key != nil else { return HTTPClients.client(nil) }
        guard (cert == nil) == (key == nil) else {
            throw FleetClientError("--cert-file and --key-file go together: give both or neither")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
            if let cert, let key {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw FleetClientError("cannot read the TLS files (\([ca, cert, key].compactMap { $0 }.joined(separator: ", "))): \(error)")
        }
        return HTTPClients.client(tls)
    }
}

/// fleetctl runs one command per process: its client lives until exit (never shut down while
/// a request may still use it). It allows more connections per host than AsyncHTTPClient's
/// default of 8, so the concurrent requests of `start` (creating 200 units) really overlap.
enum HTTPClients {
    nonisolated(unsafe) private static var made: HTTPClient?

    static func client(_ tls: TLSConfiguration?) -> HTTPClient {
        if let made { return made }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 48
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        made = client
        return client
    }
}

/// Options of the commands that wait for units to reach a state.
struct BlockOptions: ParsableArguments {
    @Flag(help: "Do not wait for the units to reach the requested state.")
    var noBlock = false

    @Option(help: "Give up waiting after N attempts of 2 s each (0: wait until done, showing progress).")
    var blockAttempts: Int = 0

    func validate() throws { try Self.check(blockAttempts) }

    /// At most a year of 2 s attempts: a larger count would overflow the wait's duration.
    static let maxAttempts = 15_768_000

    static func check(_ attempts: Int) throws {
        guard (0...maxAttempts).contains(attempts) else {
            throw ValidationError("--block-attempts must be between 0 and \(maxAttempts), not \(attempts).")
        }
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
