import Foundation

/// One setting of fleetd under the names each source spells it: `agent_ttl` in fleet.conf,
/// `FLEET_AGENT_TTL` in the environment, `--agent-ttl` on the command line.
///
/// The file's names are fleet's where fleet had the setting (`etcd_servers`, `public_ip`,
/// `metadata`, `agent_ttl`, ...) and otherwise the flag's name in snake_case, so a fleet user's
/// `fleet.conf` reads unchanged. ``all`` is the one list: parsing, `--print-config` and the
/// docs' example file follow its order.
struct ConfigKey: Sendable, Hashable {
    /// What fleetd does with a key that is set.
    enum Use: Sendable, Hashable {
        /// The setting is used.
        case used
        /// A fleet key with no meaning here: accepted, and reported as ignored with the reason.
        case ignored(String)
        /// A fleet key whose feature fleetd lacks, where ignoring it would change behaviour: an error.
        case unsupported(String)
    }

    /// fleet.conf's name.
    let name: String
    /// The command-line flag without its dashes; nil for fleet's keys that have no flag here.
    let flag: String?
    let use: Use
    /// `--print-config` says only whether it is set (key files, passwords).
    let secret: Bool
    /// False for settings that must not stay in a file (a one-time action such as `--init-store`).
    let inFile: Bool

    /// `flag` defaults to the name in kebab-case; `commandLine` false for keys without one.
    init(_ name: String, flag: String? = nil, commandLine: Bool = true, use: Use = .used, secret: Bool = false,
         inFile: Bool = true) {
        self.name = name
        self.flag = commandLine && use == .used ? flag ?? name.replacingOccurrences(of: "_", with: "-") : nil
        self.use = use
        self.secret = secret
        self.inFile = inFile
    }

    /// fleet's convention: `FLEET_` and the key in upper case.
    var environmentName: String { "FLEET_" + name.uppercased() }

    func hash(into hasher: inout Hasher) { hasher.combine(name) }
    static func == (a: ConfigKey, b: ConfigKey) -> Bool { a.name == b.name }
}

extension ConfigKey {
    static let store = ConfigKey("store")
    static let etcdServers = ConfigKey("etcd_servers")
    static let etcdKeyPrefix = ConfigKey("etcd_key_prefix")
    static let etcdCAFile = ConfigKey("etcd_cafile", flag: "etcd-ca-file")
    static let etcdCertFile = ConfigKey("etcd_certfile", flag: "etcd-cert-file")
    static let etcdKeyFile = ConfigKey("etcd_keyfile", flag: "etcd-key-file", secret: true)
    static let etcdTransport = ConfigKey("etcd_transport")
    static let tlsCA = ConfigKey("tls_ca")
    static let tlsCert = ConfigKey("tls_cert")
    static let tlsKey = ConfigKey("tls_key", secret: true)
    static let insecurePlaintext = ConfigKey("insecure_plaintext")
    static let dataDir = ConfigKey("data_dir")
    static let keysListen = ConfigKey("keys_listen")
    static let apiSocket = ConfigKey("api_socket")
    static let apiListen = ConfigKey("api_listen")
    static let dnsListen = ConfigKey("dns_listen")
    static let dnsZone = ConfigKey("dns_zone")
    static let dnsUDPPayload = ConfigKey("dns_udp_payload")
    static let dnsRateLimit = ConfigKey("dns_rate_limit")
    static let dnsRateLimitExempt = ConfigKey("dns_rate_limit_exempt")
    static let mdns = ConfigKey("mdns")
    static let systemdUser = ConfigKey("systemd_user")
    static let unitDirectory = ConfigKey("unit_directory")
    static let publicIP = ConfigKey("public_ip")
    static let metadata = ConfigKey("metadata")
    static let agentTTL = ConfigKey("agent_ttl")
    static let engineLeaseTTL = ConfigKey("engine_lease_ttl")
    static let defaultIsolation = ConfigKey("default_isolation")
    static let allowShadowing = ConfigKey("allow_shadowing")
    static let drainOnStop = ConfigKey("drain_on_stop")
    static let tokenLimit = ConfigKey("token_limit")
    static let initStore = ConfigKey("init_store", inFile: false)
    static let httpMaxConnections = ConfigKey("http_max_connections")
    static let httpIdleTimeout = ConfigKey("http_idle_timeout")
    static let httpMaxHeaderBytes = ConfigKey("http_max_header_bytes")
    static let maxWatchers = ConfigKey("max_watchers")
    static let watchBuffer = ConfigKey("watch_buffer")
    static let disableEngine = ConfigKey("disable_engine")
    static let prefix = ConfigKey("prefix")
    static let machineIDFile = ConfigKey("machine_id_file")
    static let verbose = ConfigKey("verbose")
    /// fleet's log level: above 0 is `verbose`.
    static let verbosity = ConfigKey("verbosity", commandLine: false)

    /// Every key, in the order `--print-config` shows them.
    static let all: [ConfigKey] = [
        .store, .etcdServers, .etcdKeyPrefix, .etcdCAFile, .etcdCertFile, .etcdKeyFile, .etcdTransport,
        .tlsCA, .tlsCert, .tlsKey, .insecurePlaintext, .dataDir, .initStore, .prefix, .machineIDFile,
        .keysListen, .apiSocket, .apiListen, .httpMaxConnections, .httpIdleTimeout, .httpMaxHeaderBytes,
        .maxWatchers, .watchBuffer, .tokenLimit,
        .dnsListen, .dnsZone, .dnsUDPPayload, .dnsRateLimit, .dnsRateLimitExempt, .mdns,
        .systemdUser, .unitDirectory, .publicIP, .metadata, .agentTTL, .engineLeaseTTL, .defaultIsolation,
        .allowShadowing, .drainOnStop, .disableEngine, .verbose, .verbosity,
    ] + fleetOnly

    /// fleet's keys that have no counterpart here, each with the reason it is told.
    static let fleetOnly: [ConfigKey] = [
        ConfigKey("engine_reconcile_interval", use: .ignored(
            "the engine plans on store events, not on a timer; its lease lives engine_lease_ttl")),
        ConfigKey("etcd_request_timeout", use: .ignored(
            "each etcd request may try every member for up to 10 s, 2 s an attempt")),
        ConfigKey("disable_watches", use: .ignored("fleetd always watches; each machine watches only its own schedule")),
        ConfigKey("enable_grpc", use: .ignored("engine and agents talk through the store only")),
        ConfigKey("units_directory", use: .ignored(
            "units are written into the systemd manager's unit directory (unit_directory)")),
        ConfigKey("verify_units", use: .ignored("deprecated in fleet too")),
        ConfigKey("authorized_keys_file", use: .ignored("deprecated in fleet too")),
        ConfigKey("etcd_username", use: .unsupported(
            "etcd user names and passwords are not supported; use etcd client certificates (etcd_certfile, etcd_keyfile)")),
        ConfigKey("etcd_password", use: .unsupported(
            "etcd user names and passwords are not supported; use etcd client certificates (etcd_certfile, etcd_keyfile)"),
                  secret: true),
    ]

    static func named(_ name: String) -> ConfigKey? {
        all.first { $0.name == name }
    }
}
