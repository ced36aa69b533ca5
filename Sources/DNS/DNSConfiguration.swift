import FleetDiscovery
import FleetStore
import Logging
import NIOCore
import ServiceLifecycle

/// Everything that shapes a discovery DNS responder: the zone, where its records are read,
/// the listeners and their limits, the UDP reply size and forwarding.
///
/// fleet-dns builds one from its options and fleetd from its `--dns-*` options; both then get
/// the zone feed and the server from ``services(store:group:logger:)``, so the two are wired
/// the same way and differ only in what they were told.
public struct DNSConfiguration: Sendable {
    /// Names outside the zone relayed to upstream servers, for the askers allowed to.
    public struct Forwarding: Sendable {
        /// Tried in order.
        public var upstreams: [SocketAddress]
        /// How long to wait for each upstream.
        public var timeout: TimeAmount
        /// Askers whose outside names are relayed (loopback at least); others get REFUSED.
        public var allowedClients: [IPNetwork]

        public init(upstreams: [SocketAddress], timeout: TimeAmount = .seconds(2),
                    allowedClients: [IPNetwork] = IPNetwork.loopback) {
            self.upstreams = upstreams
            self.timeout = timeout
            self.allowedClients = allowedClients
        }
    }

    /// The zone's name, SOA, NS and negative TTL.
    public var zone: ZoneSettings
    /// Where the discovery records are read from.
    public var keys: DiscoveryKeys
    /// Listeners, TCP limits and UDP rate limiting.
    public var server: DNSServer.Configuration
    /// The most bytes in one UDP reply, also advertised in EDNS (512 to askers without EDNS).
    public var ednsPayloadSize: UInt16
    /// Nil answers names outside the zone REFUSED.
    public var forwarding: Forwarding?

    public init(zone: ZoneSettings = ZoneSettings(), keys: DiscoveryKeys = .standard,
                server: DNSServer.Configuration = .init(), ednsPayloadSize: UInt16 = 1232,
                forwarding: Forwarding? = nil) {
        self.zone = zone
        self.keys = keys
        self.server = server
        self.ednsPayloadSize = ednsPayloadSize
        self.forwarding = forwarding
    }

    /// The zone feed following the store and the server answering from the views it publishes,
    /// in the order a `ServiceGroup` runs them (the server stops answering first).
    public func services(store: any KeyValueStore, group: any EventLoopGroup, logger: Logger) -> [any Service] {
        let forwarder = forwarding.map {
            DNSForwarder(upstreams: $0.upstreams, timeout: $0.timeout, allowedClients: $0.allowedClients)
        }
        let responder = DNSResponder(configuration: .init(ednsPayloadSize: ednsPayloadSize, forwarding: forwarder != nil))
        let publisher = ZonePublisher(apex: zone.apex)
        let feed = ZoneFeed(store: store, settings: zone, publisher: publisher, prefix: keys.root, logger: logger)
        let server = DNSServer(configuration: server, responder: responder, publisher: publisher,
                               forwarder: forwarder, group: group, logger: logger)
        return [feed, server]
    }
}
