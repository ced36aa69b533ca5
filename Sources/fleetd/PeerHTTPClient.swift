import AsyncHTTPClient
import FleetIdentity

/// The HTTP client fleetd calls other fleetds with (a remote store, status and journal
/// forwarding). With TLS it presents this machine's certificate and trusts only the cluster
/// CA. Made once and kept for the life of the process, so it is never shut down while a
/// request may still use it.
enum PeerHTTPClient {
    nonisolated(unsafe) private static var made: HTTPClient?

    static func client(_ tls: NodeTLS?) -> HTTPClient {
        guard let tls else { return .shared }
        if let made { return made }
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls.clientConfiguration
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        made = client
        return client
    }
}
