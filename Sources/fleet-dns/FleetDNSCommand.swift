import ArgumentParser
import FleetDiscovery
import FleetMDNS
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The standalone discovery DNS responder: `dig @node -p PORT web.fleet`.
///
/// Thin on purpose: parse options, build the configuration, run a ServiceGroup of the store
/// (when it is in-process), the zone feed and the server. Everything else is FleetDiscovery's.
@main
struct FleetDNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-dns",
        abstract: "DNS responder for fleet's service discovery (zone fleet. by default).",
        discussion: """
            Answers from the discovery records under /discovery in the store, following its watch:
              web.fleet                A/AAAA of healthy instances (shuffled), TXT one per instance, SRV
              3.web.fleet              one instance: A/AAAA, TXT of its metadata, SRV of its ports
              _web._tcp.fleet          SRV (targets <machine>.machine.fleet, addresses in additional)
              _http._tcp.web.fleet     SRV of the ports named http
              node1.machine.fleet      A/AAAA of a machine
              d.c.b.a.in-addr.arpa     PTR to the machine name
            Names outside the zone are REFUSED unless --upstream servers are given.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "The zone to answer for.")
    var zone: String = "fleet."

    @Option(help: "Address to listen on (UDP and TCP).")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (UDP and TCP).")
    var port: Int = 53

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int = System.coreCount

    @Option(help: "UDP sockets sharing the port with SO_REUSEPORT (default: one per thread).")
    var udpSockets: Int?

    @Flag(help: "Do not listen on TCP (truncated UDP answers then cannot be retried).")
    var noTCP = false

    @Option(name: .customLong("upstream"), help: "Forward names outside the zone to this server (IP or IP:PORT; repeatable, tried in order).")
    var upstreams: [String] = []

    @Option(help: "Milliseconds to wait for each upstream.")
    var forwardTimeoutMs: Int64 = 2000

    @Option(help: "TTL of NXDOMAIN and NODATA answers, in seconds.")
    var negativeTTL: UInt32 = 5

    @Option(help: "The NS target at the zone apex (default: ns.<zone>).")
    var nsName: String?

    @Option(name: .customLong("ns-address"), help: "An address of the NS target, served as its A/AAAA (repeatable).")
    var nsAddresses: [String] = []

    @Option(help: "UDP payload size advertised in EDNS responses.")
    var ednsBufferSize: UInt16 = 1232

    @Flag(help: "Also publish this machine's instances on the local network through avahi-daemon (DNS-SD).")
    var mdns = false

    @Option(help: "This machine's ID for --mdns (default: the contents of /etc/machine-id).")
    var machineID: String?

    @Option(help: "Store prefix holding the discovery records.")
    var discoveryPrefix: String = "/discovery"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard let apex = DNSName(zone), !apex.isRoot else {
            throw ValidationError("'\(zone)' is not a zone name; expected something like fleet. or cluster.example.")
        }
        if let nsName, DNSName(nsName) == nil {
            throw ValidationError("'\(nsName)' is not a DNS name.")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535, not \(port).") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        for upstream in upstreams where (try? Self.upstreamAddress(upstream)) == nil {
            throw ValidationError("'\(upstream)' is not an upstream address; expected IP or IP:PORT (IPv6 as [IP]:PORT).")
        }
        try store.validate()
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "fleet-dns")
        let apex = DNSName(zone)!
        let settings = ZoneSettings(apex: apex, nameserver: nsName.flatMap(DNSName.init), nameserverAddresses: nsAddresses,
                                    negativeTTL: negativeTTL)
        let forwarder = upstreams.isEmpty ? nil : DNSForwarder(
            upstreams: try upstreams.map(Self.upstreamAddress), timeout: .milliseconds(forwardTimeoutMs))
        let responder = DNSResponder(configuration: .init(ednsPayloadSize: ednsBufferSize, forwarding: forwarder != nil))
        let publisher = ZonePublisher(apex: apex)
        let (kvStore, storeServices) = try await store.makeStore(logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let feed = ZoneFeed(store: kvStore, settings: settings, publisher: publisher, prefix: discoveryPrefix,
                            logger: logger)
        let server = DNSServer(
            configuration: .init(host: host, port: port, udpSockets: udpSockets, tcp: !noTCP),
            responder: responder, publisher: publisher, forwarder: forwarder, group: group, logger: logger)
        // Store first, so it stops last; the server last, so it stops answering first.
        var services = storeServices + [feed as any Service, server]
        if mdns {
            let id = machineID ?? (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard !id.isEmpty else { throw ValidationError("--mdns needs this machine's ID: pass --machine-id or provide /etc/machine-id") }
            services.insert(MDNSBridge(store: kvStore, machineID: id, root: discoveryPrefix, logger: logger), at: storeServices.count)
        }
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// `10.0.0.2`, `10.0.0.2:5353`, `[fd00::1]:53` or `fd00::1`; port 53 when none is given.
    static func upstreamAddress(_ text: String) throws -> SocketAddress {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            let port = rest.hasPrefix(":") ? Int(rest.dropFirst()) : (rest.isEmpty ? 53 : nil)
            guard let port else { throw ValidationError("bad port in '\(text)'") }
            return try SocketAddress(ipAddress: host, port: port)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let port = Int(parts[1]) {
            return try SocketAddress(ipAddress: String(parts[0]), port: port)
        }
        return try SocketAddress(ipAddress: text, port: 53)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
