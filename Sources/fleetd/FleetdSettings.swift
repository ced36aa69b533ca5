import ArgumentParser
import FleetDNS
import FleetDiscovery
import FleetUnit
import FleetHTTPServer
import FleetStore
import Foundation

/// fleetd's settings, resolved once: command line, then `FLEET_<NAME>` environment, then default.
struct FleetdSettings: Sendable {
    enum StoreChoice: Sendable, Equatable {
        case embedded
        case remote(url: String)
        case etcd(endpoints: [String], prefix: String, caFile: String?, certFile: String?, keyFile: String?)
    }

    var store: StoreChoice
    /// The CA, certificate and key of TLS on the TCP listeners and of calls to other fleetds;
    /// nil without them: then there is no TCP listener unless ``insecurePlaintext``.
    var tls: TLSFiles?
    /// `--insecure-plaintext`: plain HTTP on TCP is allowed (``checkPlaintext(keysListenGiven:)``).
    var insecurePlaintext: Bool
    /// The default keys API listener was left out for want of TLS (fleetd warns, saying how to get it).
    var skippedDefaultKeysListener = false
    var dataDirectory: String
    var keysListen: (host: String, port: Int)?
    var apiSocket: String
    var apiListen: (host: String, port: Int)?
    var dnsListen: (host: String, port: Int)?
    /// The zone the DNS responder answers for (`--dns-zone`, `fleet.` by default).
    var dnsZone: DNSName
    /// The DNS responder's UDP reply cap and rate limit (`--dns-udp-payload`, `--dns-rate-limit*`).
    var dnsUDPPayload: Int
    var dnsRateLimit: DNSRateLimiter.Configuration
    var mdns: Bool
    var systemdUser: Bool
    var unitDirectory: String
    var publicIP: String
    var metadata: [String: String]
    var agentTTL: Int64
    var defaultIsolation: UnitIsolation
    /// Units may shadow the host's own units (`--allow-shadowing`).
    var allowShadowing: Bool
    var engineLeaseTTL: Int64
    var initStore: Bool
    var disableEngine: Bool
    var tokenLimit: Int
    /// Bounds of each HTTP listener (before fitting them to the descriptor limit).
    var listenerLimits: ListenerLimits
    /// Bounds of the embedded store's watches.
    var watchLimits: WatchLimits
    var prefix: String
    var machineID: String
    var verbose: Bool

    init(command c: FleetdCommand, environment env: [String: String]) throws {
        func value(_ option: String?, _ name: String) -> String? {
            option ?? env["FLEET_" + name]
        }
        func flag(_ option: Bool, _ name: String) -> Bool {
            option || ["1", "true", "yes", "on"].contains((env["FLEET_" + name] ?? "").lowercased())
        }
        let storeText = value(c.store, "STORE") ?? "embedded"
        if let servers = value(c.etcdServers, "ETCD_SERVERS") {
            let endpoints = servers.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]\" "))
            }.filter { !$0.isEmpty }
            guard !endpoints.isEmpty, endpoints.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) else {
                throw ValidationError("--etcd-servers must be comma-separated http(s):// URLs, not '\(servers)'")
            }
            store = .etcd(endpoints: endpoints, prefix: value(c.etcdKeyPrefix, "ETCD_KEY_PREFIX") ?? "/fleet-cluster",
                          caFile: value(c.etcdCAFile, "ETCD_CAFILE"), certFile: value(c.etcdCertFile, "ETCD_CERTFILE"),
                          keyFile: value(c.etcdKeyFile, "ETCD_KEYFILE"))
        } else if storeText == "embedded" {
            store = .embedded
        } else if storeText.hasPrefix("http://") || storeText.hasPrefix("https://") {
            store = .remote(url: storeText)
        } else {
            throw ValidationError("--store must be 'embedded' or an http(s):// URL of a fleetd keys API, not '\(storeText)'")
        }
        tls = try TLSFiles(ca: value(c.tlsCA, "TLS_CA"), certificate: value(c.tlsCert, "TLS_CERT"),
                           key: value(c.tlsKey, "TLS_KEY"))
        dataDirectory = value(c.dataDir, "DATA_DIR") ?? "/var/lib/fleet"
        insecurePlaintext = flag(c.insecurePlaintext, "INSECURE_PLAINTEXT")
        let keysGiven = value(c.keysListen, "KEYS_LISTEN")
        let keys = keysGiven ?? (store == .embedded ? "127.0.0.1:4001" : "none")
        keysListen = keys == "none" ? nil : try Self.hostPort(keys, option: "--keys-listen")
        apiSocket = value(c.apiSocket, "API_SOCKET") ?? "/var/run/fleet.sock"
        apiListen = try value(c.apiListen, "API_LISTEN").map { try Self.hostPort($0, option: "--api-listen") }
        dnsListen = try value(c.dnsListen, "DNS_LISTEN").map { try Self.hostPort($0, option: "--dns-listen") }
        let zone = value(c.dnsZone, "DNS_ZONE") ?? "fleet."
        guard let apex = DNSName(zone), !apex.isRoot else {
            throw ValidationError("--dns-zone: '\(zone)' is not a zone name; expected something like fleet. or cluster.example.")
        }
        dnsZone = apex
        dnsUDPPayload = try Self.number(value(c.dnsUdpPayload.map(String.init), "DNS_UDP_PAYLOAD"),
                                        option: "--dns-udp-payload", in: 512...65535, default: 1232)
        let rate = try Self.number(value(c.dnsRateLimit.map(String.init), "DNS_RATE_LIMIT"),
                                   option: "--dns-rate-limit", in: 0...1_000_000, default: 100)
        var exempt = IPNetwork.loopback
        for text in (value(c.dnsRateLimitExempt, "DNS_RATE_LIMIT_EXEMPT") ?? "").split(separator: ",") {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let network = IPNetwork(trimmed) else {
                throw ValidationError("--dns-rate-limit-exempt: '\(trimmed)' is not a network; expected e.g. 10.77.0.0/24")
            }
            exempt.append(network)
        }
        dnsRateLimit = DNSRateLimiter.Configuration(responsesPerSecond: rate, exempt: exempt)
        mdns = flag(c.mdns, "MDNS")
        systemdUser = flag(c.systemdUser, "SYSTEMD_USER")
        if let directory = value(c.unitDirectory, "UNIT_DIRECTORY") {
            unitDirectory = directory
        } else if systemdUser {
            guard let runtime = env["XDG_RUNTIME_DIR"] else {
                throw ValidationError("--systemd-user needs XDG_RUNTIME_DIR (or --unit-directory) to know where user units go")
            }
            unitDirectory = runtime + "/systemd/user"
        } else {
            unitDirectory = "/run/systemd/system"
        }
        metadata = try Self.metadata(value(c.metadata, "METADATA") ?? "")
        let ttlText = value(c.agentTTL.map(String.init), "AGENT_TTL") ?? "10"
        guard let ttl = Int64(ttlText.hasSuffix("s") ? String(ttlText.dropLast()) : ttlText), (2...86_400).contains(ttl) else {
            throw ValidationError("--agent-ttl must be a whole number of seconds from 2 to 86400, not '\(ttlText)'")
        }
        agentTTL = ttl
        let leaseText = value(c.engineLeaseTTL.map(String.init), "ENGINE_LEASE_TTL") ?? String(ttl)
        guard let lease = Int64(leaseText), (2...86_400).contains(lease) else {
            throw ValidationError("--engine-lease-ttl must be a whole number of seconds from 2 to 86400, not '\(leaseText)'")
        }
        engineLeaseTTL = lease
        let isolationText = value(c.defaultIsolation, "DEFAULT_ISOLATION") ?? "keep"
        guard let isolation = UnitIsolation(isolationText) else {
            throw ValidationError("--default-isolation must be keep or stop, not '\(isolationText)'")
        }
        defaultIsolation = isolation
        allowShadowing = flag(c.allowShadowing, "ALLOW_SHADOWING")
        disableEngine = flag(c.disableEngine, "DISABLE_ENGINE")
        initStore = flag(c.initStore, "INIT_STORE")
        let limitText = value(c.tokenLimit.map(String.init), "TOKEN_LIMIT") ?? "100"
        guard let limit = Int(limitText), (1...Int(UInt16.max)).contains(limit) else {
            throw ValidationError("--token-limit must be a whole number from 1 to 65535, not '\(limitText)'")
        }
        tokenLimit = limit
        let connections = try Self.number(value(c.httpMaxConnections.map(String.init), "HTTP_MAX_CONNECTIONS"),
                                          option: "--http-max-connections", in: 1...1_000_000,
                                          default: ListenerLimits.defaultMaxConnections)
        let idle = try Self.number(value(c.httpIdleTimeout.map(String.init), "HTTP_IDLE_TIMEOUT"),
                                   option: "--http-idle-timeout", in: 0...86_400, default: 120)
        let headerBytes = try Self.number(value(c.httpMaxHeaderBytes.map(String.init), "HTTP_MAX_HEADER_BYTES"),
                                          option: "--http-max-header-bytes", in: 1024...(16 << 20),
                                          default: ListenerLimits.defaultMaxHeaderBytes)
        listenerLimits = ListenerLimits(maxConnections: connections, idleTimeout: idle == 0 ? nil : .seconds(idle),
                                        maxHeaderBytes: headerBytes)
        watchLimits = WatchLimits(
            maxWatchers: try Self.number(value(c.maxWatchers.map(String.init), "MAX_WATCHERS"), option: "--max-watchers",
                                         in: 1...1_000_000, default: WatchLimits.defaultMaxWatchers),
            maxPendingEvents: try Self.number(value(c.watchBuffer.map(String.init), "WATCH_BUFFER"),
                                              option: "--watch-buffer", in: 1...1_000_000,
                                              default: WatchLimits.defaultMaxPendingEvents))
        prefix = value(c.prefix, "PREFIX") ?? "/fleet"
        let idFile = value(c.machineIDFile, "MACHINE_ID_FILE") ?? "/etc/machine-id"
        guard let id = try? String(contentsOfFile: idFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty
        else {
            throw ValidationError("unable to determine local machine ID: \(idFile) is missing or empty")
        }
        machineID = id
        publicIP = value(c.publicIP, "PUBLIC_IP") ?? HostAddress.firstIPv4() ?? ""
        verbose = c.verbose || flag(false, "VERBOSE")
        try checkPlaintext(keysListenGiven: keysGiven != nil)
    }

    /// Where other fleetds reach this one's API (`--api-listen`, a wildcard host replaced by
    /// the public IP); nil without a TCP listener.
    var advertisedAPIURL: String? {
        guard let listen = apiListen else { return nil }
        var host = ["0.0.0.0", "::", "[::]", ""].contains(listen.host) ? publicIP : listen.host
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return host.isEmpty ? nil : "\(tls == nil ? "http" : "https")://\(host):\(listen.port)"
    }

    static func hostPort(_ text: String, option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port)
        else {
            throw ValidationError("\(option) must be HOST:PORT, e.g. 127.0.0.1:4001, not '\(text)'")
        }
        return (String(text[..<colon]), port)
    }

    /// A whole number in `range` (the option's default when `text` is nil).
    static func number(_ text: String?, option: String, in range: ClosedRange<Int>, default value: Int) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ValidationError("\(option) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// `k=v,k2=v2`; spaces around `=` and `,` trimmed; later duplicates win.
    static func metadata(_ text: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--metadata entries must be key=value, not '\(item)'")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }
}
