import ArgumentParser
import Foundation
import Logging

/// `fleetd`: the daemon every machine runs. Options fall back to `FLEET_<KEY>` environment
/// variables (for example `FLEET_STORE`, `FLEET_SYSTEMD_USER=1`), then to the configuration file
/// (fleet's `fleet.conf`, ``ConfigFile``), then to the defaults shown.
@main
struct FleetdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetd",
        abstract: "The fleet daemon: agent, engine and API for one machine of the cluster.",
        discussion: """
        Every option can also be set in the configuration file (--config, default \
        /etc/fleet/fleet.conf: key=value lines with fleet's key names, e.g. public_ip="10.0.0.5", \
        agent_ttl=30s; dashes become underscores) and as FLEET_<KEY> in the environment \
        (e.g. FLEET_API_SOCKET). The command line wins over the environment, the environment \
        over the file. --print-config shows the result and where each value came from.

        Examples:
          fleetd                                     # one machine, embedded store, system manager
          fleetd --tls-ca ca.pem --tls-cert m1.pem --tls-key m1-key.pem --keys-listen 10.0.0.1:4001
          fleetd --tls-ca ... --store https://10.0.0.1:4001   # share another fleetd's store

        SIGHUP reloads the configuration (logged as "Reloading configuration") and re-reads \
        the file; fleetd keeps serving. SIGTERM and SIGINT stop it gracefully.

        fleetd restore FILE puts a backup (fleetctl backup) in place of a stopped fleetd's store.
        """,
        version: FleetdVersion.text,
        subcommands: [RestoreCommand.self])

    @Option(help: ArgumentHelp("The configuration file (fleet.conf syntax; default /etc/fleet/fleet.conf, which may be absent).",
                               valueName: "file"))
    var config: String?

    @Flag(help: "Print the effective settings and where each came from (flag, env, file:line, default), then exit.")
    var printConfig = false

    @Option(help: "The store: 'embedded' (in this process), or the URL of another fleetd's keys API.")
    var store: String?

    @Option(help: "Use this etcd cluster as the store: comma-separated client URLs (fleet's etcd_servers).")
    var etcdServers: String?

    @Option(help: "Key prefix inside etcd (default /fleet-cluster).")
    var etcdKeyPrefix: String?

    @Option(help: "etcd TLS: CA file, client certificate and key (all optional).")
    var etcdCAFile: String?
    @Option(help: "etcd TLS client certificate file.")
    var etcdCertFile: String?
    @Option(help: "etcd TLS client key file.")
    var etcdKeyFile: String?
    @Option(help: "How fleetd talks to etcd: 'grpc' (default; etcd's gRPC API over HTTP/2, with or without TLS) or 'gateway' (etcd's JSON gateway over HTTP/1.1: slower, for members reached only through a JSON proxy).")
    var etcdTransport: String?

    @Option(help: "TLS on the TCP listeners (--keys-listen, --api-listen): the cluster CA (PEM); clients must present a certificate it issued. Give --tls-ca, --tls-cert and --tls-key together (see fleetctl cluster --help).")
    var tlsCA: String?
    @Option(help: "TLS: this machine's certificate (PEM), from fleetctl cluster issue --role machine --machine-id <this machine's ID>; also presented to other fleetds and a remote store.")
    var tlsCert: String?
    @Option(help: "TLS: this machine's private key (PEM).")
    var tlsKey: String?

    @Flag(help: ArgumentHelp(
        "Allow plain, unauthenticated HTTP on TCP (the keys API, the API on TCP, an http:// store) when no TLS files are given. Insecure.",
        discussion: """
            Without --tls-ca/--tls-cert/--tls-key and without this flag, fleetd opens no plain TCP \
            listener: --keys-listen or --api-listen is then an error, and the default keys API on \
            127.0.0.1:4001 is skipped with a warning. Anyone who can reach a plain listener can \
            read every unit (and its secrets) and run anything as root on every machine.
            """))
    var insecurePlaintext = false

    @Option(help: "Where the embedded store keeps its data (default /var/lib/fleet).")
    var dataDir: String?

    @Option(help: "Serve the etcd-v2 keys API on HOST:PORT (default 127.0.0.1:4001 with the embedded store and TLS; 'none' to disable). Needs TLS or --insecure-plaintext.")
    var keysListen: String?

    @Option(help: "Unix socket for the fleet API (default /var/run/fleet.sock).")
    var apiSocket: String?

    @Option(help: "Also serve the fleet API on HOST:PORT. Needs TLS or --insecure-plaintext.")
    var apiListen: String?

    @Option(help: "Also answer discovery DNS queries (zone fleet. unless --dns-zone) on HOST:PORT, UDP and TCP.")
    var dnsListen: String?

    @Option(help: "With --dns-listen: the zone to answer for (default fleet.).")
    var dnsZone: String?

    @Option(help: "With --dns-listen: the most bytes in one UDP reply, also advertised in EDNS (default 1232; 512 to askers without EDNS).")
    var dnsUdpPayload: Int?

    @Option(help: "With --dns-listen: UDP responses per second to one source prefix (/24, /56); 0 turns rate limiting off (default 100).")
    var dnsRateLimit: Int?

    @Option(help: "With --dns-listen: networks (CIDR, comma-separated) never rate-limited, besides loopback.")
    var dnsRateLimitExempt: String?

    @Flag(help: "Publish this machine's discovery records on the local network through avahi-daemon (DNS-SD).")
    var mdns = false

    @Flag(help: "Drive the user's systemd manager (session bus) instead of the system manager.")
    var systemdUser = false

    @Option(help: "Where unit files are written (default: the manager's runtime unit directory).")
    var unitDirectory: String?

    @Option(help: "The address other machines and clients reach this machine at (default: first non-loopback IPv4).")
    var publicIP: String?

    @Option(help: "Machine metadata for scheduling, e.g. region=east,disk=ssd.")
    var metadata: String?

    @Option(help: ArgumentHelp(
        "Seconds (or a duration such as 30s, fleet's agent_ttl) a machine and its unit states live without a refresh (default 10).",
        discussion: """
            Presence is refreshed every tenth of it (0.5 to 3 s), so a store outage of up to about \
            90 % of the TTL moves nothing; after a loss, units are started elsewhere about one TTL \
            later. A longer TTL rides out longer outages and fails over more slowly.
            """))
    var agentTTL: String?

    @Option(help: "Seconds (or a duration such as 30s) the engine leader's lease lives without a renewal (default: the agent TTL, so a lost leader's units move as fast as any other machine's).")
    var engineLeaseTTL: String?

    @Option(help: ArgumentHelp(
        "What to do with units that set no [X-Fleet] Isolation= while this machine is cut off: keep or stop (default keep).",
        discussion: """
            keep (fleet's behaviour) leaves them running through an outage; stop halts them shortly \
            before the TTL runs out, so a copy started elsewhere never overlaps them.
            """))
    var defaultIsolation: String?

    @Flag(help: ArgumentHelp(
        "Load units whose name the host already has outside fleet's unit directory (default off).",
        discussion: """
            Without it such a unit (a cluster unit named ssh.service on a machine that has its own) \
            is refused: list-units shows it with state refused/host-unit and fleetd logs why.
            """))
    var allowShadowing = false

    @Flag(help: ArgumentHelp(
        "On SIGTERM/SIGINT stop and unload every unit here and withdraw the machine at once (default off).",
        discussion: """
            For taking a machine out of the cluster: the engine moves its units right away. Without \
            it a stop leaves the units running and the presence in place, so fleetd restarted or \
            upgraded within agent_ttl adopts them with the same main PIDs and nothing moves.
            """))
    var drainOnStop = false

    @Option(help: "Page size of the API's list resources (fleet's token_limit, default 100).")
    var tokenLimit: Int?

    @Flag(help: ArgumentHelp(
        "Make a new cluster if the store holds none (the first start of a new cluster).",
        discussion: """
            Without it fleetd refuses to start on an empty store: a data directory that is missing \
            or not mounted must never look like a cluster without units.
            """))
    var initStore = false

    @Option(help: "Open connections per HTTP listener (keys API, API socket, API on TCP); more are closed at once (default 4096, lowered to fit the descriptor limit; a store machine needs about 12 per other fleetd).")
    var httpMaxConnections: Int?

    @Option(help: "Seconds before an HTTP connection with no request in flight is closed; watches in flight are never cut (default 120, 0 for none).")
    var httpIdleTimeout: Int?

    @Option(help: "Largest request line plus headers in bytes, per HTTP request (default 65536).")
    var httpMaxHeaderBytes: Int?

    @Option(help: "Watches open at once on the store (served by the embedded store, or opened to a remote store or etcd); more are refused, with 503 on the keys API (default 4096).")
    var maxWatchers: Int?

    @Option(help: "Events a watch may have undelivered before it is ended with 'index cleared' and its client re-reads (default 5000).")
    var watchBuffer: Int?

    @Flag(help: "Never run for engine leadership (this machine only runs units).")
    var disableEngine = false

    @Option(help: "Key prefix of fleet's registry in the store (default /fleet).")
    var prefix: String?

    @Option(help: "File holding this machine's ID (default /etc/machine-id).")
    var machineIDFile: String?

    @Flag(name: .shortAndLong, help: "Log debug detail.")
    var verbose = false

    mutating func run() async throws {
        // First of all: from here on SIGHUP reloads instead of ending the process.
        let hangups = await ConfigurationReloader.trapHangups()
        let environment = ProcessInfo.processInfo.environment
        let command = self
        let settings = try command.settings(environment: environment)
        if printConfig {
            print(settings.provenance.rendered)
            return
        }
        let levelSwitch = LogLevelSwitch(settings.logLevel)
        LoggingSystem.bootstrap { label in
            var stream = StreamLogHandler.standardError(label: label)
            stream.logLevel = .trace  // the switch decides
            return SwitchedLogHandler(wrapping: stream, levelSwitch: levelSwitch)
        }
        let logger = Logger(label: "fleetd")
        for warning in settings.provenance.ignoredWarnings {
            logger.warning("fleet configuration key ignored", metadata: ["fleetd.config": "\(warning)"])
        }
        let reload = FleetdReload(running: settings, resolve: { try command.settings(environment: environment) },
                                  logLevel: levelSwitch, logger: logger)
        try await Fleetd(settings: settings, logger: logger,
                         reloader: ConfigurationReloader(hangups: hangups, reload: { reload() }, logger: logger)).run()
    }
}

enum FleetdVersion {
    static let text = "fleetd version 0.1.0"
}
