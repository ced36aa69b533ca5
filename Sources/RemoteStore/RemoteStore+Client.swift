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
    /// * More connections per host than the client's default of 8: each watch holds one for as
    ///   long as it runs, and a fleetd keeps several, which must never make a presence refresh
    ///   queue behind them.
    public static func clientConfiguration(tls: TLSConfiguration? = nil) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return configuration
    }

    /// The client a ``RemoteStore`` uses unless it is given one: made with
    /// ``clientConfiguration(tls:)`` and kept for the life of the process, so it is never shut
    /// down while a request may still use it.
    public static let defaultClient = HTTPClient(eventLoopGroupProvider: .singleton,
                                                 configuration: clientConfiguration())
}
