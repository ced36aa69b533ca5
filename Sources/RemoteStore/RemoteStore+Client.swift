import AsyncHTTPClient
import NIOSSL

extension RemoteStore {
    /// How a fleet process should configure the HTTP client it reaches a keys API with.
    ///
    /// * Connection attempts are not retried inside the client. AsyncHTTPClient would otherwise
    ///   keep a request waiting while it re-dials a refused server with a growing back-off
    ///   (100 ms × 1.25ⁿ), so after a store holder's fleetd restarts, the first requests can sit
    ///   in that back-off for a second or more although the server answers again. A presence
    ///   refresh bounded to one second then fails while the store is up, and the machine's
    ///   presence runs out. Every caller of a remote store retries on its own terms (the
    ///   presence loop every 250 ms, followers with their own back-off), so a refused
    ///   connection failing the request at once is what they need.
    /// * `connectionsPerHost`: how many connections one pool keeps to a server at most; requests
    ///   beyond it wait for one. The default, 64, is for a pool that carries watches: each holds
    ///   one for as long as it runs, and a fleetd keeps several.
    public static func clientConfiguration(tls: TLSConfiguration? = nil, connectionsPerHost: Int = 64) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, connectionsPerHost)
        return configuration
    }

    /// The client a ``RemoteStore`` uses unless it is given one: made with
    /// ``clientConfiguration(tls:connectionsPerHost:)`` and kept for the life of the process, so
    /// it is never shut down while a request may still use it.
    public static let defaultClient = HTTPClient(eventLoopGroupProvider: .singleton,
                                                 configuration: clientConfiguration())

    /// The HTTP clients a ``RemoteStore`` sends with, one pool of connections each.
    ///
    /// A fleetd gives each kind of request its own pool (``separate(tls:)``). A burst of writes
    /// (an agent publishing 67 units' states at once) then opens at most ``Limits/requests``
    /// connections, each a TLS handshake that costs the store's machine about 1.8 ms of CPU (a
    /// start of 200 units opened 63 of them), while TTL refreshes (a machine's presence, the
    /// engine lease, each bounded to about a second) never queue behind that burst, and the
    /// watches, which hold their connections for as long as they run, never take a request's.
    public struct Clients: Sendable {
        /// Reads and writes other than TTL refreshes.
        public var requests: HTTPClient
        /// TTL refreshes (``FleetStore/StoreWrite/refresh(key:ttl:condition:)``).
        public var refreshes: HTTPClient
        /// Watches.
        public var watches: HTTPClient

        /// One client for everything (fleetctl, fleet-dns, tests).
        public init(_ client: HTTPClient) {
            requests = client
            refreshes = client
            watches = client
        }

        public init(requests: HTTPClient, refreshes: HTTPClient, watches: HTTPClient) {
            self.requests = requests
            self.refreshes = refreshes
            self.watches = watches
        }

        /// Connections per server of each pool ``separate(tls:)`` makes.
        public enum Limits {
            public static let requests = 16
            public static let refreshes = 4
            public static let watches = 64
        }

        /// Three clients, one per pool, for the life of the process (never shut down).
        public static func separate(tls: TLSConfiguration?) -> Clients {
            func make(_ connections: Int) -> HTTPClient {
                HTTPClient(eventLoopGroupProvider: .singleton,
                           configuration: clientConfiguration(tls: tls, connectionsPerHost: connections))
            }
            return Clients(requests: make(Limits.requests), refreshes: make(Limits.refreshes), watches: make(Limits.watches))
        }
    }
}
