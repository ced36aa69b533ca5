import ArgumentParser
import FleetDNS
import FleetDiscovery
import FleetUnit
import FleetHTTPServer
import FleetStore
import FleetStoreEtcd
import Foundation

/// fleetd's settings, resolved once: command line, then `FLEET_<KEY>` environment, then the
/// configuration file (``ConfigFile``), then default.
struct FleetdSettings: Sendable {
    enum StoreChoice: Sendable, Equatable {
        case embedded
        case remote(url: String)
        case etcd(endpoints: [String], prefix: String, caFile: String?, certFile: String?, keyFile: String?)
    }

    var store: StoreChoice
    /// `etcd_transport`: how requests reach etcd when the store is etcd.
    var etcdTransport: EtcdStore.Transport
    /// The CA, certificate and key of TLS on the TCP listeners and of calls to other fleetds;
    /// nil without them: then there is no TCP listener unless ``insecurePlaintext``.
    var tls: TLSFiles?
    /// `--insecure-plaintext`: plain HTTP on TCP is allowed (``checkPlaintext()``).
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
    /// A graceful stop drains the machine instead of leaving its units running (`--drain-on-stop`).
    var drainOnStop: Bool
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

    /// Where each setting came from, for `--print-config`; not a setting (a reload ignores it).
    var provenance: SettingProvenance

    /// From the command line and the environment only (tests; ``FleetdCommand`` adds the file).
    init(command c: FleetdCommand, environment env: [String: String]) throws {
        try self.init(sources: SettingSources(flags: c.givenOptions, environment: env, file: nil))
    }

    /// Resolves every setting, flag > environment > file > default (``SettingResolver``).
    ///
    /// - Throws: ``ConfigurationError`` naming the origin of the first bad value.
    init(sources: SettingSources) throws {
        var r = SettingResolver(sources)
        // Looked up whichever store it is, so --print-config shows them all.
        let etcdPrefix = r.text(.etcdKeyPrefix, default: "/fleet-cluster").text
        let transport = r.text(.etcdTransport, default: "grpc")
        guard let etcdTransport = EtcdStore.Transport(rawValue: transport.text) else {
            throw r.invalid(.etcdTransport, transport, "must be 'grpc' or 'gateway'")
        }
        self.etcdTransport = etcdTransport
        let etcdFiles = (ca: r.text(.etcdCAFile)?.text, cert: r.text(.etcdCertFile)?.text, key: r.text(.etcdKeyFile)?.text)
        if let servers = r.text(.etcdServers) {
            // fleet's format: `[`, `]`, `"` and spaces stripped around each item.
            let endpoints = servers.text.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]\" "))
            }.filter { !$0.isEmpty }
            guard !endpoints.isEmpty, endpoints.count <= 64,
                  endpoints.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") })
            else {
                throw r.invalid(.etcdServers, servers, "must be comma-separated http(s):// URLs")
            }
            let storeText = r.text(.store, default: "etcd")
            guard storeText.text == "etcd" else {
                throw r.invalid(.store, storeText, "cannot be used with etcd_servers (\(servers.origin)); give one of them")
            }
            store = .etcd(endpoints: endpoints, prefix: etcdPrefix, caFile: etcdFiles.ca, certFile: etcdFiles.cert,
                          keyFile: etcdFiles.key)
        } else {
            let storeText = r.text(.store, default: "embedded")
            if storeText.text == "embedded" {
                store = .embedded
            } else if storeText.text.hasPrefix("http://") || storeText.text.hasPrefix("https://") {
                store = .remote(url: storeText.text)
            } else {
                throw r.invalid(.store, storeText, "must be 'embedded' or an http(s):// URL of a fleetd keys API")
            }
        }
        tls = try TLSFiles(ca: r.text(.tlsCA)?.text, certificate: r.text(.tlsCert)?.text, key: r.text(.tlsKey)?.text)
        dataDirectory = r.text(.dataDir, default: "/var/lib/fleet").text
        insecurePlaintext = try r.bool(.insecurePlaintext)
        let keysGiven = r.text(.keysListen) != nil
        // Without TLS the embedded store's default keys API is left out unless plain HTTP is
        // allowed (FleetdSettings+Plaintext.swift), and --print-config shows it as none.
        let plainAllowed = tls != nil || insecurePlaintext
        skippedDefaultKeysListener = store == .embedded && !keysGiven && !plainAllowed
        let keys = r.text(.keysListen, default: store == .embedded && plainAllowed ? "127.0.0.1:4001" : "none")
        keysListen = keys.text == "none" ? nil : try Self.hostPort(keys, .keysListen, r)
        apiSocket = r.text(.apiSocket, default: "/var/run/fleet.sock").text
        apiListen = try r.text(.apiListen).map { try Self.hostPort($0, .apiListen, r) }
        dnsListen = try r.text(.dnsListen).map { try Self.hostPort($0, .dnsListen, r) }
        let zone = r.text(.dnsZone, default: "fleet.")
        guard zone.text.utf8.count <= 255, let apex = DNSName(zone.text), !apex.isRoot else {
            throw r.invalid(.dnsZone, zone, "must be a zone name, like fleet. or cluster.example.")
        }
        dnsZone = apex
        dnsUDPPayload = try r.number(.dnsUDPPayload, in: 512...65535, default: 1232)
        let rate = try r.number(.dnsRateLimit, in: 0...1_000_000, default: 100)
        var exempt = IPNetwork.loopback
        if let networks = r.text(.dnsRateLimitExempt) {
            let items = networks.text.split(separator: ",")
            guard items.count <= 1024 else { throw r.invalid(.dnsRateLimitExempt, networks, "may list at most 1024 networks") }
            for text in items {
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard let network = IPNetwork(trimmed) else {
                    throw r.invalid(.dnsRateLimitExempt, networks, "must list networks (CIDR, comma-separated), e.g. 10.77.0.0/24; '\(trimmed.prefix(60))' is not one")
                }
                exempt.append(network)
            }
        }
        dnsRateLimit = DNSRateLimiter.Configuration(responsesPerSecond: rate, exempt: exempt)
        mdns = try r.bool(.mdns)
        systemdUser = try r.bool(.systemdUser)
        if let directory = r.text(.unitDirectory) {
            unitDirectory = directory.text
        } else if systemdUser {
            guard let runtime = sources.environment["XDG_RUNTIME_DIR"] else {
                throw ConfigurationError(.badValue, "systemd_user needs XDG_RUNTIME_DIR (or unit_directory) to know where user units go")
            }
            unitDirectory = runtime + "/systemd/user"
        } else {
            unitDirectory = "/run/systemd/system"
        }
        r.recordDefault(.unitDirectory, unitDirectory)
        let metadataText = r.text(.metadata, default: "")
        do {
            metadata = try Self.metadata(metadataText.text)
        } catch {
            throw r.invalid(.metadata, metadataText, "must be key=value pairs, comma-separated, e.g. region=east,disk=ssd")
        }
        agentTTL = try r.seconds(.agentTTL, in: 2...86_400, default: "10")
        engineLeaseTTL = try r.seconds(.engineLeaseTTL, in: 2...86_400, default: String(agentTTL))
        let isolationText = r.text(.defaultIsolation, default: "keep")
        guard let isolation = UnitIsolation(isolationText.text) else {
            throw r.invalid(.defaultIsolation, isolationText, "must be keep or stop")
        }
        defaultIsolation = isolation
        allowShadowing = try r.bool(.allowShadowing)
        drainOnStop = try r.bool(.drainOnStop)
        disableEngine = try r.bool(.disableEngine)
        initStore = try r.bool(.initStore)
        tokenLimit = try r.number(.tokenLimit, in: 1...Int(UInt16.max), default: 100)
        let connections = try r.number(.httpMaxConnections, in: 1...1_000_000, default: ListenerLimits.defaultMaxConnections)
        let idle = try r.number(.httpIdleTimeout, in: 0...86_400, default: 120)
        let headerBytes = try r.number(.httpMaxHeaderBytes, in: 1024...(16 << 20), default: ListenerLimits.defaultMaxHeaderBytes)
        listenerLimits = ListenerLimits(maxConnections: connections, idleTimeout: idle == 0 ? nil : .seconds(idle),
                                        maxHeaderBytes: headerBytes)
        watchLimits = WatchLimits(
            maxWatchers: try r.number(.maxWatchers, in: 1...1_000_000, default: WatchLimits.defaultMaxWatchers),
            maxPendingEvents: try r.number(.watchBuffer, in: 1...1_000_000, default: WatchLimits.defaultMaxPendingEvents))
        prefix = r.text(.prefix, default: "/fleet").text
        let idFile = r.text(.machineIDFile, default: "/etc/machine-id")
        guard let id = try? String(contentsOfFile: idFile.text, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty
        else {
            throw ConfigurationError(.badValue, "unable to determine local machine ID: \(idFile.text) is missing or empty (\(idFile.origin))")
        }
        machineID = id
        if let ip = r.text(.publicIP) {
            // Published to every machine and client as this machine's address: an address, not a name.
            guard !ip.text.contains("/"), IPNetwork(ip.text) != nil else {
                throw r.invalid(.publicIP, ip, "must be an IPv4 or IPv6 address")
            }
            publicIP = ip.text
        } else {
            publicIP = HostAddress.firstIPv4() ?? ""
        }
        r.recordDefault(.publicIP, publicIP)
        let verbosity = try r.number(.verbosity, in: 0...100, default: 0)
        verbose = try r.bool(.verbose, default: verbosity > 0)
        provenance = SettingProvenance(resolving: &r)
        try checkPlaintext()
    }

    /// Where other fleetds reach this one's API (`--api-listen`, a wildcard host replaced by
    /// the public IP); nil without a TCP listener.
    var advertisedAPIURL: String? {
        guard let listen = apiListen else { return nil }
        var host = ["0.0.0.0", "::", "[::]", ""].contains(listen.host) ? publicIP : listen.host
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return host.isEmpty ? nil : "\(tls == nil ? "http" : "https")://\(host):\(listen.port)"
    }

    static func hostPort(_ setting: ResolvedSetting, _ key: ConfigKey, _ resolver: SettingResolver) throws(ConfigurationError) -> (host: String, port: Int) {
        let text = setting.text
        guard let colon = text.lastIndex(of: ":"), text.utf8.count <= 300,
              let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw resolver.invalid(key, setting, "must be HOST:PORT, e.g. 127.0.0.1:4001")
        }
        return (String(text[..<colon]), port)
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
