import ArgumentParser
import FleetDNS
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
/// (when it is in-process), the zone feed and the server. Everything else is FleetDNS's.
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
            Names outside the zone are REFUSED unless --upstream servers are given, and then
            relayed only for loopback and the --forward-allow networks (never an open resolver).
            ANY is answered with one HINFO record (RFC 8482); UDP replies are at most
            --edns-buffer-size bytes (512 without EDNS) and rate-limited per source prefix.
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

    @Option(help: ArgumentHelp(
        "How UDP queries are served: batched (a thread per socket over recvmmsg/sendmmsg, nothing allocated per query) or event-loop (SwiftNIO channels).",
        valueName: "batched|event-loop"))
    var udpEngine: DNSServer.UDPEngine = .batched

    @Option(help: "UDP datagrams read per system call (1…1024).")
    var udpBatch: Int = 64

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

    @Option(help: "UDP payload size advertised in EDNS responses, and the most sent in one UDP reply (512 to askers without EDNS); larger answers are cut with TC.")
    var ednsBufferSize: UInt16 = 1232

    @Option(name: .customLong("forward-allow"), help: "A client network (CIDR, e.g. 10.77.0.0/24) whose outside names --upstream relays; repeatable. Loopback always; others get REFUSED.")
    var forwardAllow: [String] = []

    @Option(help: "UDP responses per second to one source prefix (/24 IPv4, /56 IPv6); 0 turns rate limiting off.")
    var rateLimit: Int = 100

    @Option(help: "Responses a quiet source prefix may get at once (default: the rate).")
    var rateLimitBurst: Int?

    @Option(help: "Every Nth rate-limited query gets an empty reply with TC (so real clients retry over TCP); 0 drops them all.")
    var rateLimitSlip: Int = 2

    @Option(name: .customLong("rate-limit-exempt"), help: "A network (CIDR) never rate-limited, besides loopback; repeatable.")
    var rateLimitExempt: [String] = []

    @Option(help: "Open TCP connections at most; more are closed at once.")
    var tcpMaxConnections: Int = 512

    @Option(help: "Open TCP connections from one address at most.")
    var tcpMaxPerClient: Int = 32

    @Option(help: "Seconds a TCP connection may send nothing before it is closed.")
    var tcpIdleTimeout: Int = 10

    @Flag(help: "Also publish this machine's instances on the local network through avahi-daemon (DNS-SD).")
    var mdns = false

    @Option(help: "This machine's ID for --mdns (default: the contents of /etc/machine-id).")
    var machineID: String?

    @Option(help: "Store prefix holding the discovery records.")
    var discoveryPrefix: String = DiscoveryKeys.standard.root

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
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1…256, not \(threads).") }
        if !(1...1024).contains(udpBatch) {
            throw ValidationError("--udp-batch must be 1…1024, not \(udpBatch).")
        }
        if let udpSockets, !(1...256).contains(udpSockets) {
            throw ValidationError("--udp-sockets must be 1…256, not \(udpSockets).")
        }
        for upstream in upstreams where (try? Self.upstreamAddress(upstream)) == nil {
            throw ValidationError("'\(upstream)' is not an upstream address; expected IP or IP:PORT (IPv6 as [IP]:PORT).")
        }
        for network in forwardAllow + rateLimitExempt where IPNetwork(network) == nil {
            throw ValidationError("'\(network)' is not a network; expected an address or CIDR such as 10.77.0.0/24 or fd00::/8.")
        }
        if !forwardAllow.isEmpty && upstreams.isEmpty {
            throw ValidationError("--forward-allow needs --upstream: without upstreams nothing is relayed.")
        }
        guard (512...65535).contains(ednsBufferSize) else {
            throw ValidationError("--edns-buffer-size must be 512…65535, not \(ednsBufferSize).")
        }
        guard (0...1_000_000).contains(rateLimit) else { throw ValidationError("--rate-limit must be 0…1000000, not \(rateLimit).") }
        if let burst = rateLimitBurst, !(1...1_000_000).contains(burst) {
            throw ValidationError("--rate-limit-burst must be 1…1000000, not \(burst).")
        }
        guard (0...1000).contains(rateLimitSlip) else { throw ValidationError("--rate-limit-slip must be 0…1000, not \(rateLimitSlip).") }
        guard (1...1_000_000).contains(tcpMaxConnections) else {
            throw ValidationError("--tcp-max-connections must be 1…1000000, not \(tcpMaxConnections).")
        }
        guard (1...1_000_000).contains(tcpMaxPerClient) else {
            throw ValidationError("--tcp-max-per-client must be 1…1000000, not \(tcpMaxPerClient).")
        }
        guard (1...3600).contains(tcpIdleTimeout) else {
            throw ValidationError("--tcp-idle-timeout must be 1…3600 seconds, not \(tcpIdleTimeout).")
        }
        guard (1...60_000).contains(forwardTimeoutMs) else {
            throw ValidationError("--forward-timeout-ms must be 1…60000, not \(forwardTimeoutMs).")
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
        let dns = try dnsConfiguration()
        let (kvStore, storeServices) = try await store.makeStore(indexKey: dns.keys.root, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        // Store first, so it stops last; the server last, so it stops answering first.
        var services = storeServices + dns.services(store: kvStore, group: group, logger: logger)
        if mdns {
            let id = machineID ?? (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard !id.isEmpty else { throw ValidationError("--mdns needs this machine's ID: pass --machine-id or provide /etc/machine-id") }
            services.insert(MDNSBridge(store: kvStore, machineID: id, root: dns.keys.root, logger: logger), at: storeServices.count)
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

    /// The responder the options describe (after ``validate()``).
    func dnsConfiguration() throws -> DNSConfiguration {
        guard let apex = DNSName(zone) else { throw ValidationError("'\(zone)' is not a zone name.") }
        let settings = ZoneSettings(apex: apex, nameserver: nsName.flatMap(DNSName.init), nameserverAddresses: nsAddresses,
                                    negativeTTL: negativeTTL)
        let forwarding = upstreams.isEmpty ? nil : DNSConfiguration.Forwarding(
            upstreams: try upstreams.map(Self.upstreamAddress), timeout: .milliseconds(forwardTimeoutMs),
            allowedClients: IPNetwork.loopback + forwardAllow.compactMap(IPNetwork.init))
        let server = DNSServer.Configuration(
            host: host, port: port, udpSockets: udpSockets, vectorReadMessageCount: udpBatch, tcp: !noTCP,
            tcpIdleTimeout: .seconds(Int64(tcpIdleTimeout)), tcpMaxConnections: tcpMaxConnections,
            tcpMaxConnectionsPerClient: tcpMaxPerClient,
            rateLimit: .init(responsesPerSecond: rateLimit, burst: rateLimitBurst, slip: rateLimitSlip,
                             exempt: IPNetwork.loopback + rateLimitExempt.compactMap(IPNetwork.init)),
            udpEngine: udpEngine)
        return DNSConfiguration(zone: settings, keys: DiscoveryKeys(root: discoveryPrefix), server: server,
                                ednsPayloadSize: ednsBufferSize, forwarding: forwarding)
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
extension DNSServer.UDPEngine: ExpressibleByArgument {}
