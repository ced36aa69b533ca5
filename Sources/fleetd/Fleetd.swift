import FleetAgent
import FleetAPI
import FleetDNS
import FleetEngine
import FleetHTTPServer
import FleetIdentity
import FleetMDNS
import FleetRemoteStore
import FleetStoreEmbedded
import FleetStoreEtcd
import FleetRegistry
import FleetStore
import FleetStoreHTTP
import FleetSystemd
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Wires one machine's services together and runs them until SIGTERM or SIGINT; SIGHUP
/// reloads the configuration (``ConfigurationReloader``).
///
/// Start order is dependency order (store, keys API, agent, engine, fleet API) and a graceful
/// shutdown runs it backwards, so the agent can still reach the store while it unloads its units.
struct Fleetd {
    let settings: FleetdSettings
    let logger: Logger
    /// Answers SIGHUP (trapped before this runs) for as long as fleetd runs.
    let reloader: ConfigurationReloader

    func run() async throws {
        let limits = listenerLimits()
        let tls = try nodeTLS()
        warnAboutPlaintext()
        let scheme = tls == nil ? "http" : "https"
        // First in, last out: a SIGHUP is answered while everything starts and stops.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: reloader)]
        let store: any KeyValueStore
        var etcdStore: EtcdStore?
        let backup: StoreBackupSource
        switch settings.store {
        case .embedded:
            let path = settings.dataDirectory + "/store.db"
            guard settings.initStore || FileManager.default.fileExists(atPath: path) else {
                throw NoClusterError(missing: "file \(path)")
            }
            try secureDataDirectory()
            let embedded = try EmbeddedStore(path: settings.dataDirectory + "/store.db", watchLimits: settings.watchLimits)
            for change in embedded.tightenedFiles {
                logger.notice("store file was readable by other users; made it owner-only", metadata: [
                    "fleetd.path": "\(change.path)", "fleetd.mode_before": "\(String(change.from, radix: 8))",
                    "fleetd.mode": "\(String(change.to, radix: 8))",
                ])
            }
            services.append(.init(service: embedded))
            store = embedded
            backup = Self.backupSource(embedded, directory: settings.dataDirectory)
        case .remote(let url):
            store = RemoteStore(url: url, clients: PeerHTTPClient.storeClients(tls), watchLimits: settings.watchLimits)
            backup = .unavailable("this fleetd does not hold the store, it uses the store at \(url): "
                                  + "run fleetctl backup against the fleetd that holds it (on that machine, or --endpoint to its API)")
        case let .etcd(endpoints, prefix, caFile, certFile, keyFile):
            let tls = (caFile ?? certFile ?? keyFile) == nil ? nil
                : EtcdStore.TLS(caFile: caFile, certificateFile: certFile, keyFile: keyFile)
            let etcd = try EtcdStore(configuration: .init(endpoints: endpoints, keyPrefix: prefix, tls: tls,
                                                          watchLimits: settings.watchLimits,
                                                          transport: settings.etcdTransport), logger: logger)
            services.append(.init(service: etcd))
            store = etcd
            etcdStore = etcd
            backup = .unavailable("this cluster's store is etcd: back it up with etcd's own tools (etcdctl snapshot save FILE)")
        }
        // fleet's engine and registry metrics, served with the API's own at /metrics.
        let prometheus = PrometheusCollectorRegistry()
        let metricsFactory = PrometheusMetricsFactory(registry: prometheus)
        // The default factory too, for what counts without being handed one (the store
        // followers' fleet_store_follow_* of the agent, DNS and mDNS).
        MetricsSystem.bootstrap(metricsFactory)
        let apiMetrics = APIMetrics(additional: { prometheus.emitToString() })
        if let keys = settings.keysListen {
            let router = tcpRouter(tls, store: store, metrics: apiMetrics)
            KeysAPI(store: store, clientURLs: ["\(scheme)://\(keys.host):\(keys.port)"]).addRoutes(to: router)
            services.append(.init(service: try listener(router, at: .hostname(keys.host, port: keys.port), limits: limits,
                                                        tls: tls)))
        }
        let registry = Registry(store: MeteredStore(store, factory: metricsFactory), keys: RegistryKeys(prefix: settings.prefix))
        let machine: MachineRecord
        do {
            try await waitForStore(registry)
            try await registry.ensureCluster(create: settings.initStore, by: MachineID(settings.machineID))
            let layout = try await registry.upgradeLayout()
            if layout.from != layout.to {
                logger.notice("store key layout upgraded", metadata: [
                    "store.layout_from": "\(layout.from)", "store.layout_to": "\(layout.to)",
                    "store.migrations": "\(layout.ran.joined(separator: "; "))"])
            }
            machine = MachineRecord(id: MachineID(settings.machineID), publicIP: settings.publicIP,
                                    metadata: settings.metadata, apiURL: settings.advertisedAPIURL,
                                    session: MachineSession.token(dataDirectory: settings.dataDirectory, logger: logger))
            // A machine ID another live fleetd holds is refused here, before the engine or the
            // API could act under it.
            try await PresenceClaim(registry: registry, record: machine, ttl: settings.agentTTL, logger: logger).claim()
        } catch {
            await etcdStore?.shutdown()  // its HTTP clients must be closed before they go
            throw error
        }
        try FileManager.default.createDirectory(atPath: settings.unitDirectory, withIntermediateDirectories: true)
        let units = try SystemdUnitManager(bus: settings.systemdUser ? .user : .system,
                                           unitDirectory: settings.unitDirectory)
        // The API answers 503 until the agent has put this machine's presence in the store.
        let readiness = APIReadiness()
        services.append(.init(service: Agent(registry: registry, units: units,
                                             configuration: .init(machine: machine, ttl: settings.agentTTL,
                                                                  defaultIsolation: settings.defaultIsolation,
                                                                  allowShadowing: settings.allowShadowing,
                                                                  drainOnStop: settings.drainOnStop,
                                                                  onRegistered: { readiness.markReady() }),
                                             logger: logger)))
        if !settings.disableEngine {
            services.append(.init(service: Engine(registry: registry,
                                                  configuration: .init(machine: machine.id, leaseTTL: settings.engineLeaseTTL,
                                                                       metrics: EngineMetrics(factory: metricsFactory)),
                                                  logger: logger)))
        }
        let api = APIRoutes(registry: registry,
                           configuration: .init(tokenLimit: settings.tokenLimit, localMachine: machine.id,
                                                peerHTTPClient: PeerHTTPClient.client(tls), storeBackup: backup),
                           readiness: readiness, metrics: apiMetrics, inspector: LocalUnitInspector(units: units))
        let apiRouter = Router(context: FleetRequestContext.self)
        api.addRoutes(to: apiRouter)
        // The keys API rides along on the API socket, so fleetctl can read and watch discovery.
        KeysAPI(store: store, clientURLs: settings.keysListen.map { ["\(scheme)://\($0.host):\($0.port)"] } ?? [])
            .addRoutes(to: apiRouter)
        let socket = settings.apiSocket
        try? FileManager.default.removeItem(atPath: socket)  // a stale socket from a previous run
        try FileManager.default.createDirectory(atPath: (socket as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        services.append(.init(service: try listener(apiRouter, at: .unixDomainSocket(path: socket), limits: limits,
                                                    tls: nil, onRunning: { [logger] in Self.secureSocket(socket, logger: logger) })))
        if let listen = settings.apiListen {
            let router = tcpRouter(tls, store: store, metrics: apiMetrics)
            api.addRoutes(to: router)
            KeysAPI(store: store, clientURLs: ["\(scheme)://\(listen.host):\(listen.port)"]).addRoutes(to: router)
            services.append(.init(service: try listener(router, at: .hostname(listen.host, port: listen.port), limits: limits,
                                                        tls: tls)))
        }
        if settings.mdns {
            services.append(.init(service: MDNSBridge(store: store, machineID: settings.machineID, logger: logger)))
        }
        if let dns = settings.dnsConfiguration {
            services += dns.services(store: store, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
                .map { .init(service: $0) }
        }
        var started: Logger.Metadata = [
            "machine.id": "\(machine.id)", "fleetd.api": "\(socket)",
            "fleetd.store": "\(settings.store)", "fleetd.public_ip": "\(settings.publicIP)",
            "fleetd.tls": "\(tls.map { "on, as \($0.identity)" } ?? "off")",
        ]
        if case .etcd = settings.store { started["fleetd.etcd_transport"] = "\(settings.etcdTransport.rawValue)" }
        started["fleetd.systemd_connection"] = "\(units.isDirect ? "direct (the manager's own socket)" : "D-Bus")"
        logger.info("fleetd starting", metadata: started)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
        try? FileManager.default.removeItem(atPath: socket)
        logger.info("fleetd stopped")
    }

    /// One HTTP listener under `limits`, with its own connection count, and accept errors
    /// (out of descriptors) paused and retried instead of ending the server. With `tls`, the
    /// connection speaks TLS first and must present a certificate from the cluster CA.
    func listener(_ router: Router<FleetRequestContext>, at address: BindAddress, limits: ListenerLimits,
                  tls: NodeTLS?, onRunning: @escaping @Sendable () -> Void = {}) throws -> some Service {
        let logger = logger.silenced
        return HTTPListener(
            router: router,
            server: try .limited(limits, gate: ConnectionGate(limit: limits.maxConnections), logger: logger,
                                 tls: tls?.serverConfiguration),
            configuration: .init(address: address, serverName: APIRoutes.serverName),
            onServerRunning: { channel in
                await AcceptBackoff.install(on: channel, logger: logger)
                onRunning()
            },
            logger: logger)
    }

    /// A router for a TCP listener: with TLS, every request first learns its client's identity,
    /// and what that identity's role may not do is refused (``RolePolicy``); a machine's write
    /// of a schedule is checked against the engine lease as `store` holds it then.
    /// `GET /fleet/v1/store/backup` on this fleetd: snapshots of `store` written into `directory`.
    static func backupSource(_ store: EmbeddedStore, directory: String) -> StoreBackupSource {
        .embedded(directory: directory) { path in try await store.backup(to: path) }
    }

    func tcpRouter(_ tls: NodeTLS?, store: any KeyValueStore, metrics: APIMetrics) -> Router<FleetRequestContext> {
        let router = Router(context: FleetRequestContext.self)
        if tls != nil {
            let lease = RegistryKeys(prefix: settings.prefix).engineLease
            router.add(middleware: PeerIdentityMiddleware(logger: logger))
            router.add(middleware: RoleMiddleware(policy: RolePolicy(prefix: settings.prefix),
                                                  engineLeader: { try await store.value(lease) },
                                                  metrics: metrics, logger: logger))
        }
        return router
    }

    /// This machine's TLS material, read and checked before anything starts; nil without TLS.
    func nodeTLS() throws -> NodeTLS? {
        guard let files = settings.tls else { return nil }
        let tls = try NodeTLS(caFile: files.ca, certificateFile: files.certificate, keyFile: files.key)
        try tls.requireMachine(settings.machineID)
        return tls
    }

    /// Raises the open-file limit, then fits the listeners' connection caps under it.
    func listenerLimits() -> ListenerLimits {
        let listeners = 1 + (settings.keysListen == nil ? 0 : 1) + (settings.apiListen == nil ? 0 : 1)
        guard let raised = DescriptorLimit.raise() else {
            logger.warning("could not read the open-file limit (RLIMIT_NOFILE)")
            return settings.listenerLimits
        }
        let (before, after) = (raised.before, raised.after)
        if after != before {
            logger.debug("raised the open-file limit", metadata: ["fleetd.nofile_before": "\(before)", "fleetd.nofile": "\(after)"])
        }
        guard let fitted = settings.listenerLimits.fitted(toDescriptorLimit: after, listeners: listeners) else {
            return settings.listenerLimits
        }
        logger.warning("lowered the HTTP connection cap to fit the open-file limit", metadata: [
            "fleetd.nofile": "\(after)", "http.max_connections": "\(fitted.maxConnections)",
        ])
        return fitted
    }

    /// The data directory owner-only (0700): created so, or tightened with a log line. One that
    /// fleetd does not own alone (`/tmp`, another user's) is left as it is, with a warning.
    func secureDataDirectory() throws {
        let directory = settings.dataDirectory
        if let change = try StoreFileModes.secureDirectory(at: directory) {
            logger.notice("data directory was open to other users; made it owner-only", metadata: [
                "fleetd.path": "\(change.path)", "fleetd.mode_before": "\(String(change.from, radix: 8))",
                "fleetd.mode": "\(String(change.to, radix: 8))",
            ])
        } else if let problem = StoreFileModes.ownershipProblem(at: directory) {
            logger.warning("data directory left as it is; its mode is not changed because \(problem)",
                           metadata: ["fleetd.path": "\(directory)"])
        }
    }

    /// The API socket is the local admin's door: mode 0600, owned by fleetd's user. The socket
    /// is created 0777 less the umask, so until this runs only fleetd's user can connect (connect
    /// needs write access); a failure here is logged, never ignored.
    static func secureSocket(_ path: String, logger: Logger) {
        var status = stat()
        guard chmod(path, 0o600) == 0, lstat(path, &status) == 0 else {
            logger.error("cannot make the API socket owner-only", metadata: [
                "fleetd.api": "\(path)", "error": "\(String(cString: strerror(errno)))",
            ])
            return
        }
        let mode = status.st_mode & 0o7777
        if mode != 0o600 || status.st_uid != geteuid() || (status.st_mode & S_IFMT) != S_IFSOCK {
            logger.error("the API socket is not an owner-only socket of fleetd's user", metadata: [
                "fleetd.api": "\(path)", "fleetd.mode": "\(String(mode, radix: 8))", "fleetd.uid": "\(status.st_uid)",
            ])
        }
    }

    /// A remote store may still be starting: wait for it, saying so, rather than failing at once.
    func waitForStore(_ registry: Registry) async throws {
        let url: String
        switch settings.store {
        case .embedded: return
        case .remote(let remote): url = remote
        case .etcd(let endpoints, _, _, _, _): url = endpoints.joined(separator: ",")
        }
        var attempt = 0
        while true {
            do {
                _ = try await registry.store.currentIndex()
                return
            } catch {
                attempt += 1
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("waiting for the store", metadata: ["fleetd.store": "\(url)", "error": "\(error)"])
                }
                try await Task.sleep(for: .milliseconds(min(200 * attempt, 2000)))
            }
        }
    }
}

extension Logger {
    /// The HTTP servers' own per-request logging stays at warning and above.
    var silenced: Logger {
        var copy = self
        copy.logLevel = max(logLevel, .warning)
        return copy
    }
}
